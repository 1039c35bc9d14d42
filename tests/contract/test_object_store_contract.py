"""Every ObjectStore keeps the same promises: the memory store, Azure Blob (Azurite) and S3
(moto). Each real backend gets a container or bucket of its own."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.aio import close_loop_resources
from shared.settings import Settings
from shared.storage import ObjectNotFound, ObjectStore
from shared.storage.azure_blob import AzureBlobStore
from shared.storage.memory import MemoryStore
from shared.storage.s3 import PART_SIZE, S3Store

pytestmark = pytest.mark.anyio
MiB = 1024 * 1024


def _build(backend: str, request: pytest.FixtureRequest) -> ObjectStore:
    if backend == "memory":
        return MemoryStore()
    settings: Settings = request.getfixturevalue("stack_settings")
    name = f"contract-{uuid.uuid4().hex[:12]}"
    if backend == "azure_blob":
        return AzureBlobStore(settings.model_copy(update={"container_name": name}))
    return S3Store(settings, name)


@pytest.fixture(params=["memory", "azure_blob", "aws_s3"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ObjectStore]:
    built = _build(request.param, request)
    await built.ensure()
    await built.ensure()  # idempotent
    yield built
    await close_loop_resources()


async def _put(store: ObjectStore, key: str, data: bytes, pieces: int = 3) -> None:
    writer = await store.writer(key)
    step = max(len(data) // pieces, 1)
    for start in range(0, len(data), step):
        await writer.write(data[start:start + step])
    await writer.commit(content_type="image/png", metadata={"file_id": "f1"})


async def _read(store: ObjectStore, key: str, offset: int = 0, length: int | None = None
                ) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, offset, length)])


async def test_committed_bytes_read_back_with_their_info(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    await _put(store, "users/a/one.png", data)
    assert await _read(store, "users/a/one.png") == data
    info = await store.info("users/a/one.png")
    assert info is not None and info.size == len(data) and info.etag
    assert info.content_type == "image/png" and info.metadata == {"file_id": "f1"}


async def test_an_empty_object(store: ObjectStore) -> None:
    writer = await store.writer("empty")
    await writer.commit(content_type="text/plain")
    assert await _read(store, "empty") == b""
    info = await store.info("empty")
    assert info is not None and info.size == 0


async def test_staged_bytes_are_invisible_until_commit(store: ObjectStore) -> None:
    writer = await store.writer("staged")
    await writer.write(os.urandom(PART_SIZE + MiB))  # past one block or part
    assert await store.info("staged") is None
    with pytest.raises(ObjectNotFound):
        await _read(store, "staged")
    await writer.commit(content_type="application/octet-stream")
    info = await store.info("staged")
    assert info is not None and info.size == PART_SIZE + MiB


@pytest.mark.parametrize("size", [1000, PART_SIZE + MiB], ids=["one-piece", "multi-part"])
async def test_abort_leaves_nothing(store: ObjectStore, size: int) -> None:
    writer = await store.writer("aborted")
    await writer.write(os.urandom(size))
    await writer.abort()
    assert await store.info("aborted") is None


async def test_abort_after_commit_removes_the_object(store: ObjectStore) -> None:
    writer = await store.writer("undone")
    await writer.write(b"committed, then the caller's transaction failed")
    await writer.commit(content_type="text/plain")
    assert await store.info("undone") is not None
    await writer.abort()
    assert await store.info("undone") is None


async def test_ranged_reads(store: ObjectStore) -> None:
    data = os.urandom(200_000)
    await _put(store, "ranged", data)
    assert await _read(store, "ranged", 1000, 5000) == data[1000:6000]
    assert await _read(store, "ranged", 150_000) == data[150_000:]
    assert await _read(store, "ranged", 199_990, 100) == data[199_990:]  # clipped at the end
    assert await _read(store, "ranged", 0, 1) == data[:1]


async def test_missing_keys(store: ObjectStore) -> None:
    assert await store.info("missing") is None
    with pytest.raises(ObjectNotFound):
        await _read(store, "missing")
    await store.delete("missing")  # not an error


async def test_delete(store: ObjectStore) -> None:
    await _put(store, "gone", b"bytes")
    await store.delete("gone")
    assert await store.info("gone") is None
    with pytest.raises(ObjectNotFound):
        await _read(store, "gone")


async def test_signed_url_serves_the_bytes_with_the_response_headers(store: ObjectStore
                                                                    ) -> None:
    await _put(store, "users/a/signed file.png", b"signed bytes")
    disposition = "attachment; filename=\"photo.png\""
    url = await store.signed_url("users/a/signed file.png", expires_in=300,
                                 content_type="image/png", content_disposition=disposition)
    assert url is not None
    if url.startswith("memory://"):  # the memory store's URL carries what a SAS carries
        query = parse_qs(urlsplit(url).query)
        assert query["rscd"] == [disposition] and query["rsct"] == ["image/png"]
        assert urlsplit(url).path.endswith("/users/a/signed%20file.png")
        return
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200 and response.content == b"signed bytes"
    assert response.headers["content-disposition"] == disposition
    assert response.headers["content-type"] == "image/png"


async def test_probe_answers(store: ObjectStore) -> None:
    assert isinstance(await store.probe(), dict)
