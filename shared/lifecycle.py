"""Lifecycle maintenance run by the timer: empty the trash past its recovery deadline,
remove files past ``expires_at``, and let the backup copies catch up."""

from __future__ import annotations

import logging
from typing import Any

from shared import backup, db
from shared.files import repository
from shared.storage import primary_store

log = logging.getLogger(__name__)
_BATCH = 100


async def _remove(row: dict[str, Any]) -> None:
    """Delete a file for good: row, quota (if still counted), primary bytes, backup copy."""
    async with db.transaction() as conn:
        locked = await repository.get_file(conn, row["id"], for_update=True)
        if locked is None:
            return
        if locked["deleted_at"] is None:
            await repository.release_usage(conn, locked["user_id"], locked["size_bytes"])
        await repository.mark_backup_for_deletion(conn, locked["file_path"])
        await repository.delete_file_row(conn, locked["id"])
    await primary_store().delete(row["file_path"])


async def _due(condition: str) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        cur = await conn.execute(
            f"SELECT id::text AS id, file_path FROM files WHERE {condition} LIMIT %s", (_BATCH,)
        )
        return await cur.fetchall()


async def purge_trash() -> int:
    rows = await _due("deleted_at IS NOT NULL AND recovery_deadline < now()")
    for row in rows:
        await _remove(row)
    return len(rows)


async def expire_files() -> int:
    rows = await _due("expires_at IS NOT NULL AND expires_at < now()")
    for row in rows:
        await _remove(row)
    return len(rows)


async def run_maintenance() -> dict[str, Any]:
    report = {
        "trash_purged": await purge_trash(),
        "expired": await expire_files(),
        "backups": await backup.catch_up(),
    }
    log.info("lifecycle maintenance: %s", report)
    return report
