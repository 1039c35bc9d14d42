"""Lifecycle maintenance run by the timer: empty the trash past its recovery deadline,
remove files past ``expires_at``, end upload sessions past theirs, and let the backup copies
catch up."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from shared import backup
from shared.context import AppContext
from shared.db import FileRepository
from shared.files.service import delete_stored_bytes
from shared.resumable.expiry import expire_sessions

log = logging.getLogger(__name__)
_BATCH = 100


async def _remove(ctx: AppContext, file_id: str) -> None:
    """Delete a file for good: row, quota (if still counted), stored bytes, backup copy."""
    async with ctx.db.transaction() as repo:
        row = await repo.files.get(file_id, for_update=True)
        if row is None:
            return
        if row["deleted_at"] is None:
            await repo.usage.release(row["user_id"], row["size_bytes"])
        await repo.backups.mark_for_deletion(row["file_path"])
        await repo.files.delete(file_id)
    await delete_stored_bytes(ctx, row)


async def _remove_due(ctx: AppContext,
                      due: Callable[[FileRepository, datetime], Awaitable[list[str]]]) -> int:
    async with ctx.db.connection() as repo:
        ids = await due(repo.files, ctx.clock())
    for file_id in ids:
        await _remove(ctx, file_id)
    return len(ids)


async def purge_trash(ctx: AppContext) -> int:
    """Files in the trash past their recovery deadline."""
    return await _remove_due(ctx, lambda files, now: files.trashed_before(now, _BATCH))


async def expire_files(ctx: AppContext) -> int:
    """Files past ``expires_at``, in the trash or not."""
    return await _remove_due(ctx, lambda files, now: files.expired_before(now, _BATCH))


async def run_maintenance(ctx: AppContext) -> dict[str, Any]:
    report = {
        "trash_purged": await purge_trash(ctx),
        "expired": await expire_files(ctx),
        "upload_sessions": await expire_sessions(ctx),
        "backups": await backup.catch_up(ctx),
    }
    log.info("lifecycle maintenance: %s", report)
    return report
