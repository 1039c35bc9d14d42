"""The file service on in-memory parts: listing (filters, sort, search, pages), detail,
update, trash, restore, permanent delete and quota, each refusal changing nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from datetime import timedelta
from typing import Any, cast

import pytest

from shared.auth import Principal, Role
from shared.context import AppContext
from shared.db.access import AccessLog
from shared.errors import (
    DuplicateFile,
    Forbidden,
    NotFound,
    NotInTrash,
    RecoveryExpired,
    Unauthorized,
)
from shared.files import service
from shared.files.models import FileUpdate, ListQuery
from shared.storage import Stores
from shared.storage.memory import MemoryStore
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase

pytestmark = pytest.mark.anyio
ALICE, BOB = Principal("alice", Role.USER), Principal("bob", Role.USER)
ADMIN = Principal("root", Role.ADMIN)


def db_of(ctx: AppContext) -> FakeDatabase:
    return cast(FakeDatabase, ctx.db)


async def add(ctx: AppContext, name: str, *, user: str = "alice", size: int = 100,
              **values: Any) -> str:
    """A stored file: an object in the memory store, its row, its usage, its backup record."""
    file_id = str(uuid.uuid4())
    path = f"users/{user}/{file_id}.txt"
    writer = await ctx.stores.primary.writer(path)
    await writer.write(b"x" * size)
    await writer.commit(content_type="text/plain")
    async with ctx.db.transaction() as repo:
        await repo.usage.reserve(user, size, None)
        await repo.files.insert({
            "id": file_id, "user_id": user, "original_name": name, "file_path": path,
            "file_type": "document", "mime_type": "text/plain", "size_bytes": size,
            "checksum_md5": "0" * 32, "storage_provider": ctx.stores.primary.name,
            "checksum_sha256": hashlib.sha256(f"{file_id}".encode()).hexdigest(), **values})
        await repo.backups.add_pending(file_id, path)
    cast(FakeClock, ctx.clock).advance(seconds=1)  # distinct created_at, in insertion order
    return file_id


async def names(ctx: AppContext, principal: Principal = ALICE, **query: Any) -> list[str]:
    listed = await service.list_files(ctx, principal, ListQuery(**query))
    return [f.original_name for f in listed.files]


async def test_listing_filters_sorts_searches_and_pages() -> None:
    ctx = fake_context()
    await add(ctx, "b.txt", project_id="p1", size=300, tags=["draft"])
    await add(ctx, "a.txt", project_id="p2", size=100, description="Premier Chapitre")
    await add(ctx, "c.txt", project_id="p1", size=200, file_type="image")
    await add(ctx, "other.txt", user="bob")
    assert await names(ctx) == ["c.txt", "a.txt", "b.txt"]  # newest first
    assert await names(ctx, sort="original_name", order="asc") == ["a.txt", "b.txt", "c.txt"]
    assert await names(ctx, sort="size_bytes", order="desc") == ["b.txt", "c.txt", "a.txt"]
    assert await names(ctx, project_id="p1") == ["c.txt", "b.txt"]
    assert await names(ctx, file_type="image") == ["c.txt"]
    assert await names(ctx, search="chapitre") == ["a.txt"]  # description, any case
    assert await names(ctx, search="DRAFT") == ["b.txt"]  # a tag
    assert await names(ctx, search="%") == []  # a wildcard is a plain character
    page = await service.list_files(ctx, ALICE, ListQuery(limit=2, page=2))
    assert [f.original_name for f in page.files] == ["b.txt"]
    assert (page.pagination.total, page.pagination.pages) == (3, 2)
    assert page.storage_usage.used_bytes == 600
    assert page.storage_usage.quota_bytes == ctx.settings.quota_user_bytes


async def test_only_admins_list_another_users_files() -> None:
    ctx = fake_context()
    await add(ctx, "mine.txt", user="bob")
    with pytest.raises(Forbidden):
        await names(ctx, ALICE, user_id="bob")
    assert await names(ctx, ADMIN, user_id="bob") == ["mine.txt"]
    assert await names(ctx, BOB, user_id="bob") == ["mine.txt"]


async def test_detail_carries_metadata_and_hides_other_users_files() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt")
    async with ctx.db.connection() as repo:
        await repo.files.add_metadata(file_id, "text", {"pages": 3})
    detail = await service.file_detail(ctx, ALICE, file_id)
    assert detail.metadata == {"text": {"pages": 3}, "processing": {
        "text_extracted": False, "thumbnails_generated": False, "searchable": False}}
    assert detail.transformations == []
    assert (await service.file_detail(ctx, ADMIN, file_id)).file.id == file_id
    for who, which in ((BOB, file_id), (ALICE, "not-a-uuid"), (ALICE, str(uuid.uuid4()))):
        with pytest.raises(NotFound):
            await service.file_detail(ctx, who, which)


async def test_update_changes_what_was_sent_and_ignores_nulls_for_required_columns() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt", tags=["old"], description="keep")
    update = FileUpdate.model_validate({"original_name": None, "is_public": True,
                                        "metadata": {"tags": ["new"]}})
    record = (await service.update_file(ctx, ALICE, file_id, update)).file
    assert (record.original_name, record.is_public, record.tags, record.description) == \
        ("a.txt", True, ["new"], "keep")
    assert record.updated_at > record.created_at
    with pytest.raises(NotFound):
        await service.update_file(ctx, BOB, file_id, FileUpdate(is_public=False))
    assert db_of(ctx).tables.files[file_id]["is_public"] is True


async def test_trash_then_restore() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt", size=500)
    deleted = await service.delete_file(ctx, ALICE, file_id, permanent=False)
    assert deleted.storage_freed_bytes == 0  # the trash counts until it is purged
    assert deleted.recovery_deadline == ctx.clock() + timedelta(days=30)
    assert await names(ctx) == [] and await names(ctx, trashed=True) == ["a.txt"]
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 500
    with pytest.raises(NotFound):  # already in the trash
        await service.delete_file(ctx, ALICE, file_id, permanent=False)
    restored = await service.restore_file(ctx, ALICE, file_id)
    assert restored.file.deleted_at is None and restored.file.recovery_deadline is None
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 500
    with pytest.raises(NotInTrash):
        await service.restore_file(ctx, ALICE, file_id)


async def test_restore_after_the_deadline_is_refused_and_changes_nothing() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt")
    await service.delete_file(ctx, ALICE, file_id, permanent=False)
    cast(FakeClock, ctx.clock).advance(days=31)
    before = db_of(ctx).tables.files[file_id]
    with pytest.raises(RecoveryExpired):
        await service.restore_file(ctx, ALICE, file_id)
    assert db_of(ctx).tables.files[file_id] == before


async def test_restore_over_a_live_copy_is_refused_and_keeps_usage_exact() -> None:
    ctx = fake_context(quota_user_bytes=1000)
    trashed = await add(ctx, "a.txt", size=600)
    await service.delete_file(ctx, ALICE, trashed, permanent=False)
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 600  # the trash counts
    sha = db_of(ctx).tables.files[trashed]["checksum_sha256"]
    await add(ctx, "same-bytes.txt", size=10, checksum_sha256=sha)
    with pytest.raises(DuplicateFile):
        await service.restore_file(ctx, ADMIN, trashed)
    assert db_of(ctx).tables.files[trashed]["deleted_at"] is not None
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 610
    await service.delete_file(ctx, ALICE, trashed, permanent=True)  # purged: freed
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 10


async def test_permanent_delete_removes_row_object_and_queues_the_backup_delete() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt", size=50)
    path = db_of(ctx).tables.files[file_id]["file_path"]
    result = await service.delete_file(ctx, ALICE, file_id, permanent=True)
    assert result.permanent and result.storage_freed_bytes == 50
    assert file_id not in db_of(ctx).tables.files
    assert cast(MemoryStore, ctx.stores.primary).keys() == []
    assert db_of(ctx).tables.backups[path]["state"] == "delete_pending"
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 0


async def test_permanent_delete_from_the_trash_frees_its_bytes_once() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt", size=50)
    await add(ctx, "b.txt", size=70)
    assert (await service.delete_file(ctx, ALICE, file_id, permanent=False)
            ).storage_freed_bytes == 0
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 120
    result = await service.delete_file(ctx, ALICE, file_id, permanent=True)
    assert result.storage_freed_bytes == 50
    assert db_of(ctx).tables.usage["alice"]["used_bytes"] == 70


async def test_upload_trash_repeat_hits_the_quota() -> None:
    ctx = fake_context(quota_user_bytes=1000)
    for round_ in range(3):
        file_id = await add(ctx, f"{round_}.txt", size=400)
        await service.delete_file(ctx, ALICE, file_id, permanent=False)
    async with ctx.db.transaction() as repo:  # 1200 bytes in the trash: no room for 400
        assert await repo.usage.reserve("alice", 400, 1000) is None


class _RefusingStore(MemoryStore):
    async def delete(self, key: str) -> None:
        raise ConnectionError("storage went away")


async def test_a_store_failing_after_the_commit_does_not_undo_the_delete(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # Other tests in the session may configure logging (disabling existing loggers): hear
    # this logger directly.
    monkeypatch.setattr(service.log, "disabled", False)
    service.log.addHandler(caplog.handler)
    ctx = dataclasses.replace(fake_context(), stores=Stores(primary=_RefusingStore()))
    file_id = await add(ctx, "a.txt")
    try:
        result = await service.delete_file(ctx, ALICE, file_id, permanent=True)
    finally:
        service.log.removeHandler(caplog.handler)
    assert result.deleted and file_id not in db_of(ctx).tables.files
    assert "orphaned object" in caplog.text


async def test_reading_a_file_records_the_access_at_most_hourly_in_batches() -> None:
    ctx = fake_context()
    file_id, other = await add(ctx, "a.txt"), await add(ctx, "b.txt")
    first = (await service.readable_file(ctx, ALICE, file_id))
    assert first["last_accessed_at"] is None
    await service.readable_file(ctx, ALICE, other)
    assert db_of(ctx).tables.files[file_id]["last_accessed_at"] is None  # not yet written
    assert await ctx.access.flush(ctx.db) == 2  # both in one statement
    seen = db_of(ctx).tables.files[file_id]["last_accessed_at"]
    assert seen == ctx.clock()
    cast(FakeClock, ctx.clock).advance(minutes=30)
    await service.readable_file(ctx, ALICE, file_id)
    assert ctx.access.pending == 0  # used within the hour: nothing to write
    cast(FakeClock, ctx.clock).advance(minutes=31)
    await service.readable_file(ctx, ALICE, file_id)
    await ctx.access.flush(ctx.db)
    assert db_of(ctx).tables.files[file_id]["last_accessed_at"] == ctx.clock()


async def test_pending_accesses_are_written_shortly_without_a_flush() -> None:
    ctx = dataclasses.replace(fake_context(), access=AccessLog(flush_after=0))
    file_id = await add(ctx, "a.txt")
    await service.readable_file(ctx, ALICE, file_id)
    for _ in range(5):  # the loop runs the scheduled flush, then the flush's own steps
        await asyncio.sleep(0)
    assert db_of(ctx).tables.files[file_id]["last_accessed_at"] == ctx.clock()


async def test_public_files_are_readable_by_anyone_until_trashed() -> None:
    ctx = fake_context()
    file_id = await add(ctx, "a.txt", is_public=True)
    assert (await service.readable_file(ctx, None, file_id))["id"] == file_id
    await service.delete_file(ctx, ALICE, file_id, permanent=False)
    with pytest.raises(Unauthorized):  # no token: 401 for anything not public
        await service.readable_file(ctx, None, file_id)
    with pytest.raises(NotFound):  # the CDN origin never asks for a token
        await service.readable_file(ctx, None, file_id, anonymous_404=True)
