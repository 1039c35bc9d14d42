"""Reconciliation on in-memory parts with a fake clock: the grace period, restores that
check the backup copy first, encrypted files verified through decryption, and when the timer
runs it."""

from __future__ import annotations

import base64
import os
from typing import cast

import pytest

from shared import backup, reconcile
from shared.context import AppContext
from shared.files.upload import upload_file
from shared.storage.memory import MemoryStore, _Object
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.unit.files.bodies import PNG, chunks, multipart, request

pytestmark = pytest.mark.anyio
KEY = base64.b64encode(os.urandom(32)).decode()


async def stored(ctx: AppContext) -> tuple[str, str]:
    body = multipart(PNG + os.urandom(3000))
    record = (await upload_file(ctx, request(length=len(body)), chunks(body))).file
    await backup.back_up(ctx, cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"])
    return record.id, cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"]


def primary(ctx: AppContext) -> MemoryStore:
    return cast(MemoryStore, ctx.stores.primary)


def spoil(store: MemoryStore, key: str) -> None:
    """Flip one byte of the stored object, keeping its properties."""
    found = store.objects[key]
    data = bytearray(found.data)
    data[len(data) // 2] ^= 0xFF
    store.objects[key] = _Object(bytes(data), found.info)


async def put(store: MemoryStore, key: str, data: bytes) -> None:
    writer = await store.writer(key)
    await writer.write(data)
    await writer.commit(content_type="application/octet-stream")


async def test_orphans_wait_for_their_grace_then_go() -> None:
    ctx = fake_context(reconcile_grace_hours=24)
    await stored(ctx)
    await put(primary(ctx), "users/x/orphan", b"no row")
    await put(cast(MemoryStore, ctx.backup), "users/x/stray", b"no record")
    await put(primary(ctx), "elsewhere/not-ours", b"outside users/")
    first = await reconcile.run(ctx, "admin")
    assert first["primary"]["memory"]["orphans_in_grace"] == 1
    assert first["backup"]["orphans_in_grace"] == 1
    cast(FakeClock, ctx.clock).advance(hours=25)
    second = await reconcile.run(ctx, "admin")
    assert second["primary"]["memory"]["orphans_deleted"] == ["users/x/orphan"]
    assert second["backup"]["orphans_deleted"] == ["users/x/stray"]
    assert primary(ctx).keys("elsewhere/") == ["elsewhere/not-ours"]
    assert (await reconcile.last_report(ctx))["report"] == second  # type: ignore[index]


@pytest.mark.parametrize("encryption_key", ["", KEY], ids=["plain", "encrypted"])
async def test_missing_and_changed_bytes_come_back_from_the_backup(encryption_key: str) -> None:
    ctx = fake_context(encryption_key=encryption_key)
    (missing, missing_path), (changed, changed_path) = await stored(ctx), await stored(ctx)
    original = {path: primary(ctx).objects[path].data for path in (missing_path, changed_path)}
    await primary(ctx).delete(missing_path)
    spoil(primary(ctx), changed_path)
    cast(FakeClock, ctx.clock).advance(minutes=1)
    report = await reconcile.run(ctx, "timer")
    assert report["primary"]["memory"]["missing"] == [missing]
    assert report["primary"]["memory"]["restored"] == [missing]
    assert report["integrity"]["corrupt"] == [changed]
    assert report["integrity"]["restored"] == [changed]
    assert report["integrity"]["checked"] == 2
    for path, data in original.items():
        assert primary(ctx).objects[path].data == data


async def test_a_backup_copy_that_differs_is_not_restored() -> None:
    ctx = fake_context()
    file_id, path = await stored(ctx)
    spoil(primary(ctx), path)
    spoil(cast(MemoryStore, ctx.backup), path)
    spoiled = primary(ctx).objects[path].data
    report = await reconcile.run(ctx, "admin")
    assert report["integrity"]["unrecoverable"] == [
        {"file_id": file_id, "reason": "backup copy does not match its checksum"}]
    assert primary(ctx).objects[path].data == spoiled  # left for a person to look at


async def test_no_backup_copy_is_reported() -> None:
    ctx = fake_context()
    body = multipart(PNG + os.urandom(100))
    record = (await upload_file(ctx, request(length=len(body)), chunks(body))).file
    await primary(ctx).delete(cast(FakeDatabase, ctx.db).tables.files[record.id]["file_path"])
    cast(FakeClock, ctx.clock).advance(minutes=1)
    report = await reconcile.run(ctx, "admin")
    assert report["primary"]["memory"]["unrecoverable"] == [
        {"file_id": record.id, "reason": "no backup copy"}]


async def test_the_timer_reconciles_at_its_interval_only() -> None:
    ctx = fake_context(reconcile_interval_hours=24)
    assert await reconcile.run_if_due(ctx) == "done"
    assert await reconcile.run_if_due(ctx) == "not due"
    cast(FakeClock, ctx.clock).advance(hours=25)
    assert await reconcile.run_if_due(ctx) == "done"
    assert len(cast(FakeDatabase, ctx.db).tables.reports) == 2
    assert await reconcile.run_if_due(fake_context(reconcile_interval_hours=0)) == "off"
