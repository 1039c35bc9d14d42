"""The backup copy of every stored object in the second cloud (S3).

A blob trigger copies each new object as it lands (Azure primary); the lifecycle timer
retries copies that failed (the backup store being down never fails an upload), picks up
copies still pending after a minute (the only path with an S3 primary, which fires no
blob event) and deletes the copies of files removed for good. The stored bytes are copied
as they are (ciphertext when the file is encrypted), streamed part by part.
"""

from __future__ import annotations

import logging

from shared.aio import found_soon
from shared.context import AppContext
from shared.db import BackupSource
from shared.storage import ObjectNotFound
from shared.storage.copy import copy_object

log = logging.getLogger(__name__)

_RETRY_BATCH = 20


async def _source(ctx: AppContext, path: str) -> BackupSource | None:
    async with ctx.db.connection() as repo:
        return await repo.backups.source(path)


async def back_up(ctx: AppContext, path: str) -> str:
    """Copy one object; returns the resulting state ('done', 'failed', 'skipped')."""
    if not ctx.settings.backup_enabled:
        return "skipped"
    row = await found_soon(lambda: _source(ctx, path))
    if row is None or row.state in {"done", "delete_pending"} or row.storage_provider is None:
        return "skipped"  # not ours, rolled back, already copied, or being removed
    # Event Grid delivers at least once and every instance may catch up: one copy at a time
    # per object, across instances; a delivery meeting a copy in progress leaves it be.
    async with ctx.db.exclusive(f"backup:{path}") as taken:
        if not taken:
            return "skipped"
        row = await _source(ctx, path)
        if row is None or row.state in {"done", "delete_pending"} or row.storage_provider is None:
            return "skipped"
        return await _copy(ctx, path, row, row.storage_provider)


async def _copy(ctx: AppContext, path: str, row: BackupSource, provider: str) -> str:
    try:
        etag, sha256 = await copy_object(ctx.stores.named(provider), ctx.backup,
                                         path, content_type=row.mime_type)
        if not row.encrypted and sha256 != row.checksum_sha256:
            raise ValueError("backup copy checksum differs from the file's checksum")
    except ObjectNotFound:
        return "skipped"  # deleted in the meantime
    except Exception as exc:  # the backup store may be down: record it, retry later
        log.warning("backup of %s failed: %s", path, exc)
        async with ctx.db.connection() as repo:
            await repo.backups.record(path, "failed", attempted=True,
                                      error=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    async with ctx.db.connection() as repo:
        await repo.backups.record(path, "done", attempted=True, key=path, etag=etag,
                                  sha256=sha256)
    return "done"


async def catch_up(ctx: AppContext, limit: int = _RETRY_BATCH) -> dict[str, int]:
    """Retry failed or stale pending copies and delete copies of removed files."""
    async with ctx.db.connection() as repo:
        due = await repo.backups.due(ctx.clock(), limit)
    counts = {"done": 0, "failed": 0, "skipped": 0, "deleted": 0}
    for path, state in due:
        if state == "delete_pending":
            counts["deleted"] += await _delete_copy(ctx, path)
        else:
            counts[await back_up(ctx, path)] += 1
    return counts


async def _delete_copy(ctx: AppContext, path: str) -> int:
    try:
        await ctx.backup.delete(path)
    except Exception as exc:  # stays delete_pending: the next run tries again
        log.warning("deleting backup copy %s failed: %s", path, exc)
        return 0
    async with ctx.db.connection() as repo:
        await repo.backups.forget(path)
    return 1
