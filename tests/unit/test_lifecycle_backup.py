"""The timer's work and the backup copy on in-memory parts: trash purge, expiry, copies that
catch up after a failure, and copies of removed files deleted."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from typing import cast

import pytest

from shared import backup, lifecycle
from shared.auth import Principal, Role
from shared.context import AppContext
from shared.files import service
from shared.files.upload import upload_file
from shared.storage.memory import MemoryStore
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.unit.files.bodies import PNG, chunks, multipart, request

pytestmark = pytest.mark.anyio
ALICE = Principal("alice", Role.USER)


async def stored(ctx: AppContext, **metadata: str) -> tuple[str, str]:
    body = multipart(PNG + os.urandom(5000), metadata=metadata or None)
    record = (await upload_file(ctx, request(length=len(body)), chunks(body))).file
    return record.id, cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"]


def tables(ctx: AppContext) -> FakeDatabase:
    return cast(FakeDatabase, ctx.db)


def clock(ctx: AppContext) -> FakeClock:
    return cast(FakeClock, ctx.clock)


class _DownStore(MemoryStore):
    async def writer(self, key: str) -> object:  # type: ignore[override]
        raise ConnectionError("backup store unreachable")


async def test_a_new_file_is_copied_byte_for_byte() -> None:
    ctx = fake_context()
    _, path = await stored(ctx)
    assert await backup.back_up(ctx, path) == "done"
    copy = cast(MemoryStore, ctx.backup).objects[path].data
    assert copy == cast(MemoryStore, ctx.stores.primary).objects[path].data
    record = tables(ctx).tables.backups[path]
    assert (record["state"], record["attempts"], record["last_error"]) == ("done", 1, None)
    assert await backup.back_up(ctx, path) == "skipped"  # already copied


async def test_a_failed_copy_is_retried_after_its_back_off() -> None:
    ctx = fake_context()
    down = dataclasses.replace(ctx, backup=_DownStore())
    _, path = await stored(ctx)
    assert await backup.back_up(down, path) == "failed"
    assert "ConnectionError" in tables(ctx).tables.backups[path]["last_error"]
    assert (await backup.catch_up(ctx))["done"] == 0  # still backing off
    clock(ctx).advance(seconds=31)
    assert (await backup.catch_up(ctx))["done"] == 1
    assert tables(ctx).tables.backups[path]["attempts"] == 2


async def test_a_copy_still_pending_after_a_minute_is_made_by_the_timer() -> None:
    ctx = fake_context()  # no blob event came (an S3 primary sends none)
    _, path = await stored(ctx)
    assert (await backup.catch_up(ctx))["done"] == 0
    clock(ctx).advance(minutes=2)
    assert (await backup.catch_up(ctx))["done"] == 1
    assert path in cast(MemoryStore, ctx.backup).objects


async def test_trash_past_its_deadline_is_purged_with_its_backup_copy() -> None:
    ctx = fake_context()
    file_id, path = await stored(ctx)
    kept_id, _ = await stored(ctx)
    await backup.back_up(ctx, path)
    await service.delete_file(ctx, ALICE, file_id, permanent=False)
    assert await lifecycle.purge_trash(ctx) == (0, 0)
    clock(ctx).advance(days=31)
    report = await lifecycle.run_maintenance(ctx)
    assert report["trash_purged"] == 1 and report["backups"]["deleted"] == 1
    assert list(tables(ctx).tables.files) == [kept_id]
    assert path not in cast(MemoryStore, ctx.stores.primary).objects
    assert path not in cast(MemoryStore, ctx.backup).objects
    assert path not in tables(ctx).tables.backups


async def test_expired_files_are_removed_and_their_quota_released() -> None:
    ctx = fake_context()
    expires = (clock(ctx)() + timedelta(hours=1)).isoformat()
    file_id, _ = await stored(ctx, expires_at=expires)
    assert await lifecycle.expire_files(ctx) == (0, 0)
    clock(ctx).advance(hours=2)
    assert await lifecycle.expire_files(ctx) == (1, 0)
    assert file_id not in tables(ctx).tables.files
    assert tables(ctx).tables.usage["alice"]["used_bytes"] == 0
    assert cast(MemoryStore, ctx.stores.primary).keys() == []
