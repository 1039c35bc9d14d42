"""SQL of per-user usage (quotas) and of the backup copies' state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from shared.db.repository import BackupSource, BackupState

Connection = AsyncConnection[dict[str, Any]]


class PgUsage:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def used_bytes(self, user_id: str) -> int:
        cur = await self._conn.execute(
            "SELECT used_bytes FROM storage_usage WHERE user_id = %s", (user_id,))
        row = await cur.fetchone()
        return int(row["used_bytes"]) if row else 0

    async def reserve(self, user_id: str, size: int, quota: int | None) -> int | None:
        # One conditional UPDATE under the row lock: concurrent uploads cannot both pass.
        await self._conn.execute(
            "INSERT INTO storage_usage (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING",
            (user_id,))
        cur = await self._conn.execute(
            "UPDATE storage_usage SET used_bytes = used_bytes + %(n)s,"
            " file_count = file_count + 1, updated_at = now() WHERE user_id = %(u)s"
            " AND (%(q)s::bigint IS NULL OR used_bytes + %(n)s <= %(q)s::bigint)"
            " RETURNING used_bytes",
            {"u": user_id, "n": size, "q": quota})
        row = await cur.fetchone()
        return int(row["used_bytes"]) if row else None

    async def release(self, user_id: str, size: int) -> None:
        await self._conn.execute(
            "UPDATE storage_usage SET used_bytes = greatest(used_bytes - %(n)s, 0),"
            " file_count = greatest(file_count - 1, 0), updated_at = now()"
            " WHERE user_id = %(u)s", {"u": user_id, "n": size})


class PgBackups:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add_pending(self, file_id: str, path: str) -> None:
        await self._conn.execute(
            "INSERT INTO file_backups (file_path, file_id) VALUES (%s, %s)"
            " ON CONFLICT (file_path) DO NOTHING", (path, file_id))

    async def mark_for_deletion(self, path: str) -> None:
        await self._conn.execute(
            "UPDATE file_backups SET state = 'delete_pending', updated_at = now()"
            " WHERE file_path = %s", (path,))

    async def source(self, path: str) -> BackupSource | None:
        cur = await self._conn.execute(
            "SELECT b.file_path, b.file_id::text AS file_id, b.state, f.storage_provider,"
            " f.mime_type, f.checksum_sha256, f.encryption IS NOT NULL AS encrypted"
            " FROM file_backups b LEFT JOIN files f ON f.id = b.file_id"
            " WHERE b.file_path = %s", (path,))
        row = await cur.fetchone()
        return BackupSource(**row) if row else None

    async def record(self, path: str, state: BackupState, *, attempted: bool = False,
                     key: str | None = None, etag: str | None = None,
                     sha256: str | None = None, error: str | None = None) -> None:
        await self._conn.execute(
            "UPDATE file_backups SET state = %(state)s,"
            " backup_key = coalesce(%(key)s, backup_key),"
            " backup_etag = coalesce(%(etag)s, backup_etag),"
            " checksum_sha256 = coalesce(%(sha)s, checksum_sha256),"
            " attempts = attempts + %(attempt)s, last_error = %(error)s, updated_at = now()"
            " WHERE file_path = %(path)s AND state <> 'delete_pending'",
            {"state": state, "key": key, "etag": etag, "sha": sha256,
             "attempt": int(attempted), "error": error, "path": path})

    async def due(self, now: datetime, limit: int) -> list[tuple[str, BackupState]]:
        cur = await self._conn.execute(
            "SELECT file_path, state FROM file_backups WHERE"
            " (state = 'failed'"
            "  AND updated_at < %(now)s - least(attempts, 10) * interval '30 seconds')"
            " OR (state = 'pending' AND updated_at < %(now)s - interval '1 minute')"
            " OR state = 'delete_pending'"
            " ORDER BY updated_at LIMIT %(limit)s", {"now": now, "limit": limit})
        return [(row["file_path"], row["state"]) for row in await cur.fetchall()]

    async def forget(self, path: str) -> None:
        await self._conn.execute(
            "DELETE FROM file_backups WHERE file_path = %s AND state = 'delete_pending'",
            (path,))
