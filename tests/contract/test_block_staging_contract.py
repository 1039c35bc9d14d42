"""Every ObjectStore stages numbered blocks across requests the same way (resumable uploads):
memory, Azure Blob (Azurite) and S3 (moto; parts of at least 5 MiB but the last)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from shared.aio import close_loop_resources
from shared.storage import ObjectStore
from tests.contract.test_object_store_contract import _build, _read

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "azure_blob", "aws_s3"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ObjectStore]:
    built = _build(request.param, request)
    await built.ensure()
    yield built
    await close_loop_resources()


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()


def _blocks(store: ObjectStore, count: int, last: int = 1000) -> list[bytes]:
    size = max(store.min_block_size, 64 * 1024)
    return [os.urandom(size) for _ in range(count - 1)] + [os.urandom(last)]


async def test_blocks_staged_out_of_order_commit_in_the_given_order(store: ObjectStore) -> None:
    key = "users/a/staged.png"
    blocks = _blocks(store, 3)
    handle = await store.begin_blocks(key, content_type="image/png")
    refs = {}
    for number in (3, 1, 2):
        refs[number] = await store.stage_block(key, handle, number, blocks[number - 1],
                                               _md5(blocks[number - 1]))
    assert await store.info(key) is None  # nothing visible before the commit
    await store.commit_blocks(key, handle, [refs[1], refs[2], refs[3]], content_type="image/png",
                              metadata={"file_id": "f1"})
    assert await _read(store, key) == b"".join(blocks)
    # Committing the same list again (a retried completion) gives the same object.
    await store.commit_blocks(key, handle, [refs[1], refs[2], refs[3]], content_type="image/png")
    assert await _read(store, key) == b"".join(blocks)


async def test_a_block_with_a_wrong_md5_is_refused(store: ObjectStore) -> None:
    if store.name == "aws_s3":
        pytest.skip("moto accepts any Content-MD5 on UploadPart; S3 refuses it (BadDigest)")
    key = "users/a/bad.png"
    handle = await store.begin_blocks(key, content_type="image/png")
    with pytest.raises(Exception):  # noqa: B017  (each SDK has its own error type)
        await store.stage_block(key, handle, 1, b"abc", _md5(b"abd"))
    await store.abort_blocks(key, handle)
    assert await store.info(key) is None


async def test_an_aborted_staging_leaves_no_object(store: ObjectStore) -> None:
    key = "users/a/aborted.png"
    handle = await store.begin_blocks(key, content_type="image/png")
    data = os.urandom(1000)
    await store.stage_block(key, handle, 1, data, _md5(data))
    await store.abort_blocks(key, handle)
    await store.abort_blocks(key, handle)  # idempotent
    assert await store.info(key) is None
