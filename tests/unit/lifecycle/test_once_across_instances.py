"""Work that must happen once when the app is scaled out: the timer's run (an advisory lock
taken by one instance; the others skip) and the backup copy of an object delivered twice."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from typing import cast

import pytest

from shared import backup, lifecycle
from shared.context import AppContext
from shared.files import service
from shared.files.upload import upload_file
from shared.storage.memory import MemoryStore, MemoryWriter
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.unit.files.bodies import PNG, chunks, multipart, request
from tests.unit.test_lifecycle_backup import ALICE

pytestmark = pytest.mark.anyio


class _SlowCountingStore(MemoryStore):
    """A backup store whose copies take a moment, counting the copies started."""

    def __init__(self) -> None:
        super().__init__("backup")
        self.writes: list[str] = []

    async def writer(self, key: str) -> MemoryWriter:
        self.writes.append(key)
        await asyncio.sleep(0.05)
        return await super().writer(key)


async def _stored(ctx: AppContext) -> tuple[str, str]:
    body = multipart(PNG + os.urandom(3000))
    record = (await upload_file(ctx, request(length=len(body)), chunks(body))).file
    return record.id, cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"]


async def test_two_deliveries_of_one_blob_event_copy_it_once() -> None:
    ctx = dataclasses.replace(fake_context(), backup=_SlowCountingStore())
    _, path = await _stored(ctx)
    states = await asyncio.gather(backup.back_up(ctx, path), backup.back_up(ctx, path))
    assert sorted(states) == ["done", "skipped"]
    assert cast(_SlowCountingStore, ctx.backup).writes == [path]
    assert await backup.back_up(ctx, path) == "skipped"  # a late third delivery too


async def test_the_timer_skips_its_run_while_another_instance_holds_the_lock() -> None:
    ctx = fake_context()
    file_id, _ = await _stored(ctx)
    await service.delete_file(ctx, ALICE, file_id, permanent=False)
    cast(FakeClock, ctx.clock).advance(days=31)
    database = cast(FakeDatabase, ctx.db)
    database.held.add(lifecycle.MAINTENANCE_LOCK)  # the other instance is running it
    report = await lifecycle.run_maintenance(ctx)
    assert set(report) == {"skipped"}
    assert file_id in database.tables.files  # nothing was purged by this instance
    database.held.discard(lifecycle.MAINTENANCE_LOCK)
    assert (await lifecycle.run_maintenance(ctx))["trash_purged"] == 1
    assert lifecycle.MAINTENANCE_LOCK not in database.held  # released after the run
