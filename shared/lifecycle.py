"""Lifecycle maintenance run by the timer: empty the trash past its recovery deadline,
remove files past ``expires_at`` (each file on its own: one failure stops nothing), end
upload sessions past theirs, move files between tiers by last use, follow rehydrations, let
the backup copies, the CDN purges and stale transformations catch up, and reconcile the
stores with the tables when that is due."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from shared import backup
from shared.context import AppContext
from shared.db import FileRepository
from shared.distribution.purge import retry_due_purges
from shared.files import tiers, variants
from shared.files.service import delete_stored_bytes
from shared.files.visibility import public_access_ended
from shared.processing import extraction
from shared.processing.reaper import reap_stale
from shared.reconcile import run_if_due
from shared.resumable.expiry import expire_sessions

log = logging.getLogger(__name__)
_BATCH = 100


async def _remove(ctx: AppContext, file_id: str, reason: str) -> None:
    """Delete a file for good: row, quota (trashed files count too), stored bytes, backup
    copy, and its variants alike."""
    async with ctx.db.transaction() as repo:
        row = await repo.files.get(file_id, for_update=True)
        if row is None:
            return
        await repo.usage.release(row["user_id"], row["size_bytes"])
        followers = await variants.delete(repo, file_id)
        await repo.backups.mark_for_deletion(row["file_path"])
        await repo.files.delete(file_id)
    await public_access_ended(ctx, row, reason)
    for removed in (row, *followers):
        await delete_stored_bytes(ctx, removed)


async def _remove_due(ctx: AppContext, reason: str,
                      due: Callable[[FileRepository, datetime], Awaitable[list[str]]]
                      ) -> tuple[int, int]:
    """(removed, failed): each file in its own transaction, so that one that fails (its
    store refusing, a lock) is left for the next run and the others go."""
    async with ctx.db.connection() as repo:
        ids = await due(repo.files, ctx.clock())
    removed = 0
    for file_id in ids:
        try:
            await _remove(ctx, file_id, reason)
        except Exception as exc:  # any failure of one file; the next run tries it again
            log.warning("removing %s file %s failed: %s", reason, file_id, exc)
            continue
        removed += 1
    return removed, len(ids) - removed


async def purge_trash(ctx: AppContext) -> tuple[int, int]:
    """Files in the trash past their recovery deadline: (removed, failed)."""
    return await _remove_due(ctx, "purged",
                             lambda files, now: files.trashed_before(now, _BATCH))


async def expire_files(ctx: AppContext) -> tuple[int, int]:
    """Files past ``expires_at``, in the trash or not: (removed, failed)."""
    return await _remove_due(ctx, "expired",
                             lambda files, now: files.expired_before(now, _BATCH))


MAINTENANCE_LOCK = "lifecycle-maintenance"


async def run_maintenance(ctx: AppContext) -> dict[str, Any]:
    """One run across all instances: when scaled out, every instance's timer fires, and the
    one holding the advisory lock does the work; the others skip this occurrence."""
    async with ctx.db.exclusive(MAINTENANCE_LOCK) as taken:
        if not taken:
            log.info("lifecycle maintenance: skipped, another instance is running it")
            return {"skipped": "another instance holds the maintenance lock"}
        return await _maintain(ctx)


async def _maintain(ctx: AppContext) -> dict[str, Any]:
    purged, purge_failed = await purge_trash(ctx)
    expired, expiry_failed = await expire_files(ctx)
    report = {
        "trash_purged": purged,
        "trash_failed": purge_failed,
        "expired": expired,
        "expiry_failed": expiry_failed,
        "tiers": await tiers.move_tiers(ctx),
        "rehydrated": await tiers.check_rehydrations(ctx),
        "upload_sessions": await expire_sessions(ctx),
        "backups": await backup.catch_up(ctx),
        "cdn_purges_retried": await retry_due_purges(ctx),
        "transformations": await reap_stale(ctx),
        "metadata": await extraction.catch_up(ctx),
        "reconciliation": await run_if_due(ctx),
    }
    log.info("lifecycle maintenance: %s", report)
    return report
