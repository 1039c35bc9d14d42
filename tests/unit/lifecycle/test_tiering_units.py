"""Tiering on in-memory parts with a fake clock: the policy, moves down and back up, the
archived read (202 while Azure would still be rehydrating), and the timer following a
rehydration to its end."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import cast

import pytest

from shared.context import AppContext
from shared.errors import Rehydrating
from shared.files import tiers
from shared.files.upload import upload_file
from shared.settings import Settings
from shared.storage.memory import MemoryStore
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.unit.files.bodies import PNG, chunks, multipart, request

pytestmark = pytest.mark.anyio


async def stored(ctx: AppContext) -> tuple[str, str]:
    body = multipart(PNG + os.urandom(3000))
    record = (await upload_file(ctx, request(length=len(body)), chunks(body))).file
    return record.id, cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"]


def row(ctx: AppContext, file_id: str) -> dict:
    return cast(FakeDatabase, ctx.db).tables.files[file_id]


def blob_tier(ctx: AppContext, path: str) -> str | None:
    return cast(MemoryStore, ctx.stores.primary).objects[path].info.tier


def advance(ctx: AppContext, **delta: float) -> None:
    cast(FakeClock, ctx.clock).advance(**delta)


def test_policy_by_idle_days() -> None:
    settings = fake_context().settings  # the default tier days
    now = fake_context().clock()
    assert [tiers.tier_for(now - timedelta(days=d), now, settings)
            for d in (0, 29, 31, 89, 91, 179, 181)] == \
        ["hot", "hot", "cool", "cool", "cold", "cold", "archive"]


def test_thresholds_must_be_in_order() -> None:
    with pytest.raises(ValueError, match="TIER_COOL_AFTER_DAYS"):
        Settings.model_validate({"TIER_COOL_AFTER_DAYS": "90", "TIER_COLD_AFTER_DAYS": "30"})


async def test_files_move_down_and_back_up_when_read_again() -> None:
    ctx = fake_context()
    file_id, path = await stored(ctx)
    advance(ctx, days=31)
    assert await tiers.move_tiers(ctx) == {"cool": 1}
    assert (row(ctx, file_id)["storage_tier"], blob_tier(ctx, path)) == ("cool", "cool")
    assert row(ctx, file_id)["tier_changed_at"] == ctx.clock()
    ctx.access.note(ctx.db, file_id, ctx.clock(), None)  # read today
    assert await tiers.move_tiers(ctx) == {"hot": 1}  # the pending access is flushed first
    assert (row(ctx, file_id)["storage_tier"], blob_tier(ctx, path)) == ("hot", "hot")
    advance(ctx, days=200)
    assert await tiers.move_tiers(ctx) == {"archive": 1}
    assert await tiers.move_tiers(ctx) == {}  # in its place: nothing to do


async def test_a_missing_object_or_a_failing_store_stops_nothing() -> None:
    ctx = fake_context()
    gone, gone_path = await stored(ctx)
    kept, _ = await stored(ctx)
    await ctx.stores.primary.delete(gone_path)
    advance(ctx, days=40)
    assert await tiers.move_tiers(ctx) == {"missing": 1, "cool": 1}
    assert row(ctx, gone)["storage_tier"] == "hot" and row(ctx, kept)["storage_tier"] == "cool"


async def test_reading_an_archived_file_starts_its_rehydration() -> None:
    ctx = fake_context(rehydrate_retry_after=900)
    memory = cast(MemoryStore, ctx.stores.primary)
    memory.slow_rehydration = True  # as in Azure: hours
    file_id, path = await stored(ctx)
    advance(ctx, days=200)
    await tiers.move_tiers(ctx)
    for _ in range(2):  # started once, then still pending
        with pytest.raises(Rehydrating) as raised:
            await tiers.ensure_readable(ctx, row(ctx, file_id))
        assert raised.value.status == 202 and raised.value.headers["Retry-After"] == "900"
        assert raised.value.body("r1")["file_id"] == file_id
        assert memory.objects[path].info.archive_status == "rehydrating"
    assert row(ctx, file_id)["rehydration_requested_at"] is not None
    assert await tiers.check_rehydrations(ctx) == 0  # not done yet
    memory.finish_rehydration(path)
    assert await tiers.check_rehydrations(ctx) == 1  # the timer sees it done
    assert row(ctx, file_id)["storage_tier"] == "hot"
    assert row(ctx, file_id)["rehydration_requested_at"] is None
    await tiers.ensure_readable(ctx, row(ctx, file_id))  # readable: no exception


async def test_an_instant_rehydration_reads_on_the_next_request() -> None:
    ctx = fake_context()
    file_id, _ = await stored(ctx)
    advance(ctx, days=200)
    await tiers.move_tiers(ctx)
    with pytest.raises(Rehydrating):
        await tiers.ensure_readable(ctx, row(ctx, file_id))
    await tiers.ensure_readable(ctx, row(ctx, file_id))
    assert row(ctx, file_id)["storage_tier"] == "hot"
