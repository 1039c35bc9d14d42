"""One segment of a resumable upload (a chunk, or the bytes of a tus PATCH) staged as blocks of
the file's final object: no temporary copy, nothing visible before the final commit.

The plaintext arrives from a frame boundary. It is cut into blocks of ``block_size`` (a
multiple of the 64 KiB encryption frame); each block is, in one worker thread and in order,
folded into the file's running MD5/SHA-256 (when this segment continues the hashed prefix),
sealed on its own (its first frame index is its offset / frame size; only the block that ends
the file seals the final frame) and hashed with MD5 for the store to verify; then it is staged,
a few blocks in flight while the next ones arrive. A block is cut only once enough bytes
follow it that the last block of the segment cannot be smaller than the store allows.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from shared.crypto import frames
from shared.crypto.hashstate import FileHashes
from shared.storage import ObjectStore

FRAME = frames.FRAME_SIZE
_IN_FLIGHT = 2


@dataclass(frozen=True)
class StagedBlock:
    number: int         # the block's number in the object's staging
    ref: str            # the store's reference, for the final commit
    start: int          # plaintext offset of the block's first byte
    end: int            # plaintext offset after its last byte
    hash_state: bytes | None  # the file's digests after ``end`` (when hashing)


@dataclass(frozen=True)
class Target:
    """Where blocks go: the store, the object's key and its staging handle."""

    store: ObjectStore
    key: str
    handle: str


class Stager:
    def __init__(self, target: Target, *, offset: int, first_block: int, block_size: int,
                 dek: bytes | None, hashes: FileHashes | None, already_hashed: int = 0,
                 segment_md5: bool = False,
                 on_block: Callable[[StagedBlock], Awaitable[None]] | None = None) -> None:
        if offset % FRAME or block_size % FRAME:
            raise ValueError("segments and blocks start on frame boundaries")
        self._target = target
        self._min = max(1, target.store.min_block_size)
        self._block_size = block_size
        self._dek = dek
        self._hashes = hashes
        self._skip = already_hashed  # leading bytes already in ``hashes`` (a tus carry)
        self._on_block = on_block
        self._pieces: list[bytes] = []
        self._buffered = 0
        self._next_start = offset
        self._number = first_block
        # The MD5 of the segment's plaintext (chunks are verified and compared by it): when
        # the segment is one plaintext block, that block's MD5 for the store is the same.
        self._md5 = hashlib.md5(usedforsecurity=False) if segment_md5 else None
        self._whole_md5: str | None = None
        # Two ordered lanes, on two cores when there are: the file's digests, and the block
        # work (segment MD5, sealing, the block's MD5). Both release the GIL while hashing.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stager")
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digests")
        self._in_flight: deque[asyncio.Task[StagedBlock]] = deque()
        self.blocks: list[StagedBlock] = []  # staged, in order
        self.received = 0

    @property
    def next_block(self) -> int:
        return self._number

    async def write(self, data: bytes) -> None:
        if not data:
            return
        self._pieces.append(data)
        self._buffered += len(data)
        self.received += len(data)
        if self._buffered >= self._block_size + self._min:
            joined = b"".join(self._pieces)
            cut = 0
            while len(joined) - cut >= self._block_size + self._min:
                await self._submit(joined[cut:cut + self._block_size], final=False)
                cut += self._block_size
            rest = joined[cut:]
            self._pieces, self._buffered = ([rest] if rest else []), len(rest)

    async def finish(self, *, final: bool) -> tuple[bytes, bytes | None]:
        """Stage what is held and wait for every block. ``final``: this segment ends the file.
        Otherwise the segment is staged up to its last frame boundary (when the store accepts
        a block that small) and the rest is returned, to be carried to the next segment.
        Returns (bytes not staged, the file's digests state after every byte received)."""
        rest = b"".join(self._pieces)
        self._pieces, self._buffered = [], 0
        tail = b""
        if final:
            if rest or (self._dek is not None and not self.blocks and not self._in_flight):
                await self._submit(rest, final=True, last=True)
        else:
            cut = len(rest) - len(rest) % FRAME
            if cut and (cut >= self._min or self._min == 1):
                await self._submit(rest[:cut], final=False, last=cut == len(rest))
                tail = rest[cut:]
            else:
                tail = rest
        while self._in_flight:
            await self._settle_oldest()
        if self._md5 is not None:
            self._md5.update(tail)
        state = None
        if self._hashes is not None:
            state = await asyncio.wrap_future(self._hasher.submit(self._hash_tail, tail))
        self._executor.shutdown(wait=False)
        self._hasher.shutdown(wait=False)
        return tail, state

    def segment_md5(self) -> str:
        """MD5 hex of the segment's plaintext (after ``finish``; needs ``segment_md5``)."""
        if self._whole_md5 is not None:
            return self._whole_md5
        assert self._md5 is not None, "the stager was not asked for the segment's MD5"
        return self._md5.hexdigest()

    async def abort(self) -> None:
        for task in self._in_flight:
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._in_flight.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._hasher.shutdown(wait=False, cancel_futures=True)

    async def _submit(self, block: bytes, *, final: bool, last: bool = False) -> None:
        start, number = self._next_start, self._number
        self._next_start += len(block)
        self._number += 1
        only = last and not self.blocks and not self._in_flight
        prepared = self._executor.submit(self._prepare, block, start, final, only)
        hashed = self._hasher.submit(self._hash_block, block) if self._hashes else None
        previous = self._in_flight[-1] if self._in_flight else None
        self._in_flight.append(asyncio.create_task(
            self._stage(prepared, hashed, number, start, start + len(block), previous)))
        while len(self._in_flight) > _IN_FLIGHT:
            await self._settle_oldest()

    async def _settle_oldest(self) -> None:
        self.blocks.append(await self._in_flight.popleft())

    def _hash_block(self, block: bytes) -> bytes:
        """In the digests lane: fold the block into the file's digests; the state after it."""
        assert self._hashes is not None
        skip = min(self._skip, len(block))
        self._skip -= skip
        self._hashes.update(block[skip:] if skip else block)
        return self._hashes.export()

    def _prepare(self, block: bytes, start: int, final: bool, only: bool
                 ) -> tuple[bytes, bytes]:
        """In the block lane: the segment's MD5, sealing, the block's MD5."""
        reuse = only and self._dek is None and self._md5 is not None
        if self._md5 is not None and not reuse:
            self._md5.update(block)
        stored = block
        if self._dek is not None:
            encryptor = frames.FrameEncryptor(self._dek, first_index=start // FRAME)
            sealed = encryptor.update(block)
            stored = sealed + (encryptor.finish() if final else encryptor.end_segment())
        md5 = hashlib.md5(stored, usedforsecurity=False).digest()
        if reuse:
            self._whole_md5 = md5.hex()
        return stored, md5

    def _hash_tail(self, tail: bytes) -> bytes:
        assert self._hashes is not None
        skip = min(self._skip, len(tail))
        self._skip -= skip
        self._hashes.update(tail[skip:])
        return self._hashes.export()

    async def _stage(self, prepared: Future[tuple[bytes, bytes]], hashed: Future[bytes] | None,
                     number: int, start: int, end: int,
                     previous: asyncio.Task[StagedBlock] | None) -> StagedBlock:
        stored, md5 = await asyncio.wrap_future(prepared)
        target = self._target
        ref = await target.store.stage_block(target.key, target.handle, number, stored, md5)
        del stored
        state: bytes | None = None
        if hashed is not None:
            state = await asyncio.wrap_future(hashed)
        staged = StagedBlock(number, ref, start, end, state)
        if previous is not None:
            await previous  # blocks are reported in order, each as soon as it can be
        if self._on_block is not None:
            await self._on_block(staged)
        return staged
