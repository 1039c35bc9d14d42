"""Reconciliation of the stores with the tables (the sweep shared/files/service.py promises).

- Each primary store's objects under ``users/`` are walked beside the rows that name that
  store, both in byte order, in one pass. An object no row names (a failed delete, a row
  that says the bytes are elsewhere) is deleted once it is older than the grace period (an
  upload commits its object a moment before its row); a row without its object is reported
  and restored from the backup copy.
- The backup bucket is walked beside ``file_backups``: a copy with no record, or whose record
  says it is to be deleted, goes after the same grace; a record that says "done" whose copy
  is gone is queued for a new copy.
- A batch of files, longest unchecked first, is read back and its SHA-256 compared (through
  decryption for encrypted files); one that differs is restored from the backup copy.

A restore first reads the backup copy and checks its SHA-256 against the one recorded when
it was made; then streams it back, verified again, before anything is committed. Each item
is handled on its own (one failure stops nothing) and the report says what was found and
done; the last one is kept (``GET /admin/reconciliation``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from shared.context import AppContext
from shared.db import Repository, Row
from shared.errors import EncryptionKeyUnavailable
from shared.files.content import read_plain
from shared.storage import ListedObject, ObjectArchived, ObjectNotFound, ObjectStore
from shared.storage.copy import copy_object, sha256_of

log = logging.getLogger(__name__)
KEY_PREFIX = "users/"
PAGE = 500
LISTED = 100  # items named per list in a report (the counts are complete)
Fetch = Callable[[Repository, str], Awaitable[list[Row]]]


class Findings:
    """Counts and (capped) lists of one part of a report."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def count(self, name: str, by: int = 1) -> None:
        self.data[name] = self.data.get(name, 0) + by

    def note(self, name: str, item: Any) -> None:
        self.count(f"{name}_count")
        items = self.data.setdefault(name, [])
        if len(items) < LISTED:
            items.append(item)


async def _rows(ctx: AppContext, fetch: Fetch) -> AsyncIterator[Row]:
    after = KEY_PREFIX
    while True:
        async with ctx.db.connection() as repo:
            page = await fetch(repo, after)
        for row in page:
            if row["file_path"].startswith(KEY_PREFIX):
                yield row
        if len(page) < PAGE:
            return
        after = page[-1]["file_path"]


async def _merge(objects: AsyncIterator[ListedObject], rows: AsyncIterator[Row]
                 ) -> AsyncIterator[tuple[ListedObject | None, Row | None]]:
    """Pairs by key: (object, row), (object, None) or (None, row)."""
    obj, row = await anext(objects, None), await anext(rows, None)
    while obj is not None or row is not None:
        key = obj.key.encode() if obj else None
        path = row["file_path"].encode() if row else None
        if path is None or (key is not None and key < path):
            yield obj, None
            obj = await anext(objects, None)
        elif key is None or path < key:
            yield None, row
            row = await anext(rows, None)
        else:
            yield obj, row
            obj, row = await anext(objects, None), await anext(rows, None)


async def _drop_orphan(store: ObjectStore, obj: ListedObject, grace_before: datetime,
                       found: Findings) -> bool:
    if obj.last_modified >= grace_before:
        found.count("orphans_in_grace")
        return False
    await store.delete(obj.key)
    found.note("orphans_deleted", obj.key)
    return True


async def restore(ctx: AppContext, row: Row) -> str | None:
    """Put the backup copy back as the file's primary object; None when done, else why not."""
    if not ctx.settings.backup_enabled:
        return "backup disabled"
    async with ctx.db.connection() as repo:
        record = await repo.maintenance.backup_record(row["file_path"])
    if record is None or record["state"] != "done":
        return "no backup copy"
    expected = record["checksum_sha256"] or (None if row["encryption"] else
                                             row["checksum_sha256"])
    if expected is None:
        return "backup copy has no recorded checksum"
    try:
        if await sha256_of(ctx.backup, row["file_path"]) != expected:
            return "backup copy does not match its checksum"
    except ObjectNotFound:
        return "backup copy missing"
    store = ctx.stores.of(row)
    await store.delete(row["file_path"])
    await copy_object(ctx.backup, store, row["file_path"], content_type=row["mime_type"],
                      expected_sha256=expected)
    async with ctx.db.connection() as repo:
        await repo.maintenance.set_tier(row["id"], "hot", ctx.clock())
    return None


async def _restore_into(ctx: AppContext, row: Row, found: Findings) -> None:
    try:
        why_not = await restore(ctx, row)
    except Exception as exc:  # one file's failure is reported, the sweep goes on
        why_not = f"{type(exc).__name__}: {exc}"[:300]
    if why_not is None:
        found.note("restored", row["id"])
    else:
        found.note("unrecoverable", {"file_id": row["id"], "reason": why_not})


async def _scan_store(ctx: AppContext, store: ObjectStore, started: datetime,
                      grace_before: datetime) -> dict[str, Any]:
    found = Findings()
    rows = _rows(ctx, lambda repo, after: repo.maintenance.files_after(store.name, after, PAGE))
    async for obj, row in _merge(store.scan(KEY_PREFIX), rows):
        found.count("objects" if row is None else "matched" if obj else "rows_without_bytes")
        try:
            if row is None and obj is not None:
                await _drop_orphan(store, obj, grace_before, found)
            elif obj is None and row is not None and row["created_at"] < started:
                found.note("missing", row["id"])  # (a row newer than the walk may be too)
                await _restore_into(ctx, row, found)
        except Exception as exc:  # one item's failure is reported, the sweep goes on
            found.note("errors", f"{obj.key if obj else row and row['file_path']}: {exc}"[:300])
    return found.data


async def _scan_backup(ctx: AppContext, grace_before: datetime) -> dict[str, Any]:
    found = Findings()
    records = _rows(ctx, lambda repo, after: repo.maintenance.backups_after(after, PAGE))
    async for obj, record in _merge(ctx.backup.scan(KEY_PREFIX), records):
        try:
            if obj is not None and (record is None or record["state"] == "delete_pending"):
                if await _drop_orphan(ctx.backup, obj, grace_before, found) and record:
                    async with ctx.db.connection() as repo:
                        await repo.backups.forget(obj.key)
            elif obj is None and record is not None and record["state"] == "done":
                found.note("missing", record["file_path"])  # copied again by the timer
                async with ctx.db.connection() as repo:
                    await repo.backups.record(record["file_path"], "pending")
        except Exception as exc:  # one item's failure is reported, the sweep goes on
            found.note("errors", f"{obj.key if obj else record}: {exc}"[:300])
    return found.data


async def _plain_sha256(ctx: AppContext, row: Row) -> str:
    digest = hashlib.sha256()
    if row["size_bytes"]:
        async for chunk in await read_plain(ctx, row, 0, row["size_bytes"] - 1):
            digest.update(chunk)
    return digest.hexdigest()


async def _verify(ctx: AppContext) -> dict[str, Any]:
    found = Findings()
    async with ctx.db.connection() as repo:
        batch = await repo.maintenance.verification_batch(ctx.settings.reconcile_verify_batch)
    for row in batch:
        try:
            intact = await _plain_sha256(ctx, row) == row["checksum_sha256"]
        except (ObjectNotFound, ObjectArchived):
            continue  # the walk reports missing bytes; archived ones cannot be read
        except EncryptionKeyUnavailable:
            found.count("key_unavailable")  # not corruption: this instance lacks the key
            continue
        except Exception as exc:  # a failed decryption (tampered ciphertext) is corruption
            log.warning("integrity check of %s: %s", row["id"], exc)
            intact = False
        found.count("checked")
        if not intact:
            found.note("corrupt", row["id"])
            await _restore_into(ctx, row, found)
        async with ctx.db.connection() as repo:
            await repo.maintenance.mark_verified(row["id"], ctx.clock())
    return found.data


async def _stores_in_use(ctx: AppContext) -> list[ObjectStore]:
    stores = {ctx.stores.primary.name: ctx.stores.primary}
    for name, store in ctx.stores.readable.items():
        async with ctx.db.connection() as repo:
            if name not in stores and await repo.maintenance.files_after(name, "", 1):
                stores[name] = store
    return list(stores.values())


async def run(ctx: AppContext, trigger: str) -> dict[str, Any]:
    """One full reconciliation; its report is saved and returned."""
    started = ctx.clock()
    grace_before = started - timedelta(hours=ctx.settings.reconcile_grace_hours)
    report: dict[str, Any] = {"trigger": trigger, "started_at": started.isoformat(),
                              "grace_hours": ctx.settings.reconcile_grace_hours,
                              "primary": {}, "errors": []}
    for store in await _stores_in_use(ctx):
        try:
            report["primary"][store.name] = await _scan_store(ctx, store, started, grace_before)
        except Exception as exc:  # a store that cannot be listed: the others still are
            report["errors"].append(f"{store.name}: {type(exc).__name__}: {exc}"[:300])
    if ctx.settings.backup_enabled:
        try:
            report["backup"] = await _scan_backup(ctx, grace_before)
        except Exception as exc:  # the backup store may be down
            report["errors"].append(f"backup: {type(exc).__name__}: {exc}"[:300])
    report["integrity"] = await _verify(ctx)
    finished = ctx.clock()
    report["finished_at"] = finished.isoformat()
    async with ctx.db.connection() as repo:
        await repo.maintenance.save_report(trigger, started, finished, report)
    log.info("reconciliation (%s): %s", trigger, report)
    return report


async def last_report(ctx: AppContext) -> Row | None:
    async with ctx.db.connection() as repo:
        return await repo.maintenance.last_report()


async def run_if_due(ctx: AppContext) -> str:
    """The timer's share: a run when the last one is older than the interval."""
    if not ctx.settings.reconcile_interval_hours:
        return "off"
    last = await last_report(ctx)
    interval = timedelta(hours=ctx.settings.reconcile_interval_hours)
    if last is not None and last["started_at"] > ctx.clock() - interval:
        return "not due"
    report = await run(ctx, "timer")
    return "done with errors" if report["errors"] else "done"
