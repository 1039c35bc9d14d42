"""The single-shot upload end to end on in-memory parts (memory store, fake database): what
a success stores and records, and that every refusal leaves nothing behind."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from shared.auth import Role
from shared.context import AppContext
from shared.crypto.frames import ciphertext_size
from shared.errors import (
    ApiError,
    BadRequest,
    ChecksumMismatch,
    DuplicateFile,
    FileTooLarge,
    InvalidFileType,
    QuotaExceeded,
    TooManyRequests,
    Unprocessable,
)
from shared.files.content import read_plain
from shared.files.upload import upload_file
from shared.storage.memory import MemoryStore
from tests.fakes.context import fake_context
from tests.fakes.database import FakeDatabase
from tests.unit.files.bodies import PNG, chunks, multipart, request

pytestmark = pytest.mark.anyio
KiB = 1024


def png(size: int = 20 * KiB) -> bytes:
    return PNG + os.urandom(size - len(PNG))


def store_of(ctx: AppContext) -> MemoryStore:
    return cast(MemoryStore, ctx.stores.primary)


def db_of(ctx: AppContext) -> FakeDatabase:
    return cast(FakeDatabase, ctx.db)


def assert_nothing_left(ctx: AppContext, user: str = "alice", used: int = 0) -> None:
    store, db = store_of(ctx), db_of(ctx)
    assert store.keys(f"users/{user}/") == [] or used, store.keys()
    assert store.pending == 0, "a writer was neither committed nor aborted"
    assert [r for r in db.tables.files.values() if r["user_id"] == user] == [] or used
    assert db.tables.usage.get(user, {}).get("used_bytes", 0) == used
    if not used:
        assert db.tables.backups == {}


async def upload(ctx: AppContext, content: bytes | None, *, user: str = "alice",
                 role: Role = Role.USER, checksum: str | None = None, **parts: Any) -> Any:
    body = multipart(content, **parts)
    return await upload_file(ctx, request(user, role, length=len(body), checksum=checksum),
                             chunks(body))


async def test_upload_stores_the_bytes_and_records_the_file() -> None:
    ctx = fake_context()
    content = png()
    result = await upload(ctx, content, metadata={"project_id": "p1", "tags": ["a", "a", "b"],
                                                  "description": "cover"})
    record = result.file
    path = db_of(ctx).tables.files[record.id]["file_path"]
    shown = result.model_dump_json()
    assert '"file_path"' not in shown and "encryption_key_id" not in shown
    assert record.mime_type == "image/png" and record.size_bytes == len(content)
    assert record.checksum_sha256 == hashlib.sha256(content).hexdigest()
    assert record.checksum_md5 == hashlib.md5(content).hexdigest()
    assert record.storage_provider == "memory" and record.tags == ["a", "b"]
    assert path == f"users/alice/{record.id}.png"
    assert store_of(ctx).objects[path].data == content
    assert store_of(ctx).objects[path].info.metadata == {"file_id": record.id}
    db = db_of(ctx)
    assert db.tables.usage["alice"] == {"used_bytes": len(content), "file_count": 1}
    assert db.tables.backups[path]["state"] == "pending"
    assert result.urls.download.endswith(f"/api/v1/storage/download/{record.id}")
    assert store_of(ctx).pending == 0


async def test_an_encrypted_upload_stores_ciphertext_and_reads_back_plaintext() -> None:
    ctx = fake_context(encryption_key=base64.b64encode(os.urandom(32)).decode())
    content = png(200 * KiB)
    record = (await upload(ctx, content)).file
    path = db_of(ctx).tables.files[record.id]["file_path"]
    stored = store_of(ctx).objects[path].data
    assert len(stored) == ciphertext_size(len(content)) and content[:64] not in stored
    row = db_of(ctx).tables.files[record.id]
    assert row["encryption_key_id"] == ctx.keyring.active_key_id
    plain = b"".join([c async for c in await read_plain(ctx, row, 1000, 150_000)])
    assert plain == content[1000:150_001]


async def test_a_file_named_with_a_path_keeps_only_a_safe_name() -> None:
    ctx = fake_context()
    record = (await upload(ctx, png(), filename="../../etc/\u202epasswd.png")).file
    assert record.original_name == "passwd.png"


REFUSALS: list[tuple[str, dict[str, Any], type[ApiError]]] = [
    ("too large", {"content": png(40 * KiB), "settings": {"max_file_size": 32 * KiB}},
     FileTooLarge),
    ("over quota", {"content": png(40 * KiB), "settings": {"quota_user_bytes": 32 * KiB}},
     QuotaExceeded),
    ("type not allowed", {"content": b"MZ\x90\x00" + os.urandom(9000), "mime": "image/png"},
     InvalidFileType),
    ("declared type differs", {"content": png(), "mime": "application/pdf"}, InvalidFileType),
    ("checksum differs", {"content": png(), "checksum": "0" * 32}, ChecksumMismatch),
    ("bad metadata", {"content": png(), "metadata": {"tags": "not-a-list"}}, Unprocessable),
    ("metadata not json", {"content": png(), "metadata": "{"}, Unprocessable),
    ("no file part", {"content": None, "metadata": {}}, BadRequest),
    ("body cut short", {"content": png(), "closed": False}, BadRequest),
]


@pytest.mark.parametrize(("case", "spec", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_every_refusal_leaves_nothing_behind(case: str, spec: dict[str, Any],
                                                   error: type[ApiError]) -> None:
    ctx = fake_context(**spec.pop("settings", {}))
    with pytest.raises(error):
        await upload(ctx, spec.pop("content"), **spec)
    assert_nothing_left(ctx)


async def test_too_large_is_refused_from_content_length_before_reading() -> None:
    ctx = fake_context(max_file_size=32 * KiB)
    read = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        read += 1
        yield b""

    with pytest.raises(FileTooLarge):
        await upload_file(ctx, request(length=10 * 1024 * KiB), body())
    assert read == 0


async def test_the_same_bytes_twice_is_a_duplicate_and_the_second_leaves_nothing() -> None:
    ctx = fake_context()
    content = png()
    first = (await upload(ctx, content)).file
    with pytest.raises(DuplicateFile) as refused:
        await upload(ctx, content, filename="again.png")
    assert refused.value.details["existing_file_id"] == first.id
    assert store_of(ctx).keys() == [db_of(ctx).tables.files[first.id]["file_path"]]
    assert store_of(ctx).pending == 0
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == len(content)
    # Another owner may hold the same bytes.
    assert (await upload(ctx, content, user="bob")).file.user_id == "bob"


async def test_a_quota_taken_meanwhile_is_caught_in_the_transaction() -> None:
    ctx = fake_context(quota_user_bytes=50 * KiB)
    content = png(30 * KiB)
    body = multipart(content)

    async def racing() -> AsyncIterator[bytes]:
        cut = body.rindex(b"\r\n--")  # before the closing boundary
        async for chunk in chunks(body[:cut], 4 * KiB):
            yield chunk
        async with ctx.db.transaction() as repo:  # another upload commits first
            await repo.usage.reserve("alice", 30 * KiB, 50 * KiB)
        yield body[cut:]  # (the reader stops reading at the closing boundary)

    with pytest.raises(QuotaExceeded) as refused:
        await upload_file(ctx, request(length=len(body)), racing())
    assert refused.value.details["user_quota_remaining"] == 20 * KiB
    assert_nothing_left(ctx, used=30 * KiB)
    assert store_of(ctx).keys() == []


async def test_a_failed_commit_removes_the_object_it_had_committed() -> None:
    ctx = fake_context()
    db_of(ctx).fail_commit = ConnectionError("lost the database at commit")
    with pytest.raises(ConnectionError):
        await upload(ctx, png())
    assert_nothing_left(ctx)


async def test_uploads_past_the_instance_limit_are_asked_to_retry() -> None:
    ctx = fake_context(max_concurrent_uploads=1)
    started, release = asyncio.Event(), asyncio.Event()
    body = multipart(png())

    async def slow() -> AsyncIterator[bytes]:
        yield body[:100]
        started.set()
        await release.wait()
        yield body[100:]

    first = asyncio.create_task(upload_file(ctx, request(length=len(body)), slow()))
    await started.wait()
    with pytest.raises(TooManyRequests) as refused:
        await upload(ctx, png())
    assert refused.value.headers == {"Retry-After": "1"}
    release.set()
    assert (await first).file.size_bytes == len(body) - len(multipart(b""))
    assert (await upload(ctx, png())).file.user_id == "alice"  # the slot came back
