"""The backup copy of every stored object in the second cloud (S3).

A blob trigger copies each new object as it lands; the lifecycle timer retries copies that
failed (the backup store being down never fails an upload) and deletes the copies of
files removed for good. The stored bytes are copied as they are (ciphertext when the file
is encrypted), streamed part by part.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

from shared import db
from shared.settings import get_settings
from shared.storage import ObjectNotFound, backup_store, primary_store

log = logging.getLogger(__name__)

# The upload commits its blob just before its database transaction; the trigger may see
# the blob a moment before the row.
_ROW_WAIT_SECONDS = (0.2, 0.5, 1.0, 2.0)
_RETRY_BATCH = 20


async def _backup_row(path: str) -> dict[str, Any] | None:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT b.file_path, b.file_id::text AS file_id, b.state, f.checksum_sha256,"
            " f.mime_type, f.encryption IS NOT NULL AS encrypted"
            " FROM file_backups b LEFT JOIN files f ON f.id = b.file_id"
            " WHERE b.file_path = %s",
            (path,),
        )
        return await cur.fetchone()


async def _mark(path: str, state: str, **fields: Any) -> None:
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE file_backups SET state = %(state)s, backup_key = coalesce(%(key)s, backup_key),"
            " backup_etag = coalesce(%(etag)s, backup_etag),"
            " checksum_sha256 = coalesce(%(sha)s, checksum_sha256),"
            " attempts = attempts + %(attempt)s, last_error = %(error)s, updated_at = now()"
            " WHERE file_path = %(path)s AND state <> 'delete_pending'",
            {"state": state, "key": fields.get("key"), "etag": fields.get("etag"),
             "sha": fields.get("sha256"), "attempt": fields.get("attempt", 0),
             "error": fields.get("error"), "path": path},
        )


async def _copy(path: str, content_type: str | None) -> tuple[str, str]:
    """Stream the primary object to the backup store; (etag, sha256 of the bytes)."""
    digest = hashlib.sha256()
    writer = await backup_store().writer(path)
    try:
        async for chunk in primary_store().read(path):
            digest.update(chunk)
            await writer.write(chunk)
        info = await writer.commit(content_type=content_type or "application/octet-stream")
    except BaseException:
        await writer.abort()
        raise
    return info.etag, digest.hexdigest()


async def back_up(path: str) -> str:
    """Copy one object; returns the resulting state ('done', 'failed', 'skipped')."""
    if not get_settings().backup_enabled:
        return "skipped"
    row = await _backup_row(path)
    for delay in _ROW_WAIT_SECONDS:
        if row is not None:
            break
        await asyncio.sleep(delay)
        row = await _backup_row(path)
    if row is None or row["state"] in {"done", "delete_pending"} or row["file_id"] is None:
        return "skipped"  # not ours, rolled back, already copied, or being removed
    try:
        etag, sha256 = await _copy(path, row["mime_type"])
        if not row["encrypted"] and sha256 != row["checksum_sha256"]:
            raise ValueError("backup copy checksum differs from the file's checksum")
    except ObjectNotFound:
        return "skipped"  # deleted in the meantime
    except Exception as exc:  # the backup store may be down: record it, retry later
        log.warning("backup of %s failed: %s", path, exc)
        await _mark(path, "failed", attempt=1, error=f"{type(exc).__name__}: {exc}"[:500])
        return "failed"
    await _mark(path, "done", key=path, etag=etag, sha256=sha256, attempt=1)
    return "done"


async def catch_up(limit: int = _RETRY_BATCH) -> dict[str, int]:
    """Retry failed or stale pending copies and delete copies of removed files."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT file_path, state FROM file_backups WHERE"
            " (state = 'failed'"
            "  AND updated_at < now() - least(attempts, 10) * interval '30 seconds')"
            " OR (state = 'pending' AND updated_at < now() - interval '1 minute')"
            " OR state = 'delete_pending'"
            " ORDER BY updated_at LIMIT %s",
            (limit,),
        )
        rows = await cur.fetchall()
    counts = {"done": 0, "failed": 0, "skipped": 0, "deleted": 0}
    for row in rows:
        if row["state"] == "delete_pending":
            counts["deleted"] += await _delete_copy(row["file_path"])
        else:
            counts[await back_up(row["file_path"])] += 1
    return counts


async def _delete_copy(path: str) -> int:
    try:
        await backup_store().delete(path)
    except Exception as exc:
        log.warning("deleting backup copy %s failed: %s", path, exc)
        return 0
    async with db.connection() as conn:
        await conn.execute(
            "DELETE FROM file_backups WHERE file_path = %s AND state = 'delete_pending'", (path,)
        )
    return 1
