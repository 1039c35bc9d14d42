"""The stager on the memory store: blocks cut where the store allows, sealed on their own,
digests carried across segments, the segment's MD5, and the bytes left for a carry."""

from __future__ import annotations

import hashlib
import os

import pytest

from shared.crypto import frames
from shared.crypto.hashstate import FileHashes
from shared.resumable.stager import FRAME, Stager, Target
from shared.storage.memory import MemoryStore

pytestmark = pytest.mark.anyio
BLOCK = 4 * FRAME


async def _stage(store: MemoryStore, data: bytes, *, offset: int, final: bool,
                 dek: bytes | None = None, hashes: FileHashes | None = None,
                 pieces: int = 7) -> tuple[Stager, bytes]:
    stager = Stager(Target(store, "k", ""), offset=offset, first_block=offset // BLOCK + 1,
                    block_size=BLOCK, dek=dek, hashes=hashes, segment_md5=True)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        await stager.write(data[start:start + step])
    tail, _ = await stager.finish(final=final)
    return stager, tail


@pytest.mark.parametrize("encrypted", [False, True])
async def test_segments_out_of_order_make_the_file(encrypted: bool) -> None:
    store, dek = MemoryStore(), frames.new_data_key() if encrypted else None
    data = os.urandom(3 * BLOCK + 5 * FRAME + 77)
    size = BLOCK + 2 * FRAME  # segments of a chunk size that is not a block multiple
    refs: dict[int, list[str]] = {}
    for start in sorted(range(0, len(data), size), reverse=True):
        piece = data[start:start + size]
        stager, tail = await _stage(store, piece, offset=start, dek=dek,
                                    final=start + size >= len(data))
        assert tail == b"" and stager.segment_md5() == hashlib.md5(piece).hexdigest()
        assert all(len(b.ref) for b in stager.blocks)
        refs[start] = [b.ref for b in stager.blocks]
    await store.commit_blocks("k", "", [r for s in sorted(refs) for r in refs[s]],
                              content_type="x")
    stored = store.objects["k"].data
    assert stored == (frames.encrypt(dek, data) if dek else data)


async def test_a_non_final_segment_leaves_its_unaligned_tail_and_digests_follow() -> None:
    store = MemoryStore()
    data = os.urandom(2 * BLOCK + 1000)
    hashes = FileHashes()
    stager, tail = await _stage(store, data, offset=0, final=False, hashes=hashes)
    assert tail == data[-1000:]
    assert [b.end for b in stager.blocks][-1] == 2 * BLOCK
    assert FileHashes.resume(hashes.export()).digests()[1] == hashlib.sha256(data).hexdigest()
    assert all(b.hash_state is not None for b in stager.blocks)


async def test_a_store_with_a_minimum_block_keeps_small_tails() -> None:
    store = MemoryStore()
    store.min_block_size = 3 * FRAME
    stager, tail = await _stage(store, os.urandom(BLOCK + 2 * FRAME + 5), offset=0,
                                final=False)
    # no block is cut unless the store's smallest block can follow it; the end is staged
    # up to its last frame boundary
    assert [b.end - b.start for b in stager.blocks] == [BLOCK + 2 * FRAME]
    assert len(tail) == 5
    stager, tail = await _stage(store, os.urandom(2 * FRAME + 5), offset=0, final=False)
    assert stager.blocks == [] and len(tail) == 2 * FRAME + 5  # too small to stage: carried
