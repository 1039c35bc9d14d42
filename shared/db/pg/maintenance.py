"""SQL of the lifecycle: last access in batches, tiers, integrity checks, the rows the
reconciliation walks (in byte order: the "C" collation) and its reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from shared.db.maintenance import Row, TierThresholds
from shared.db.pg.files import SELECT_FILE

Connection = AsyncConnection[dict[str, Any]]
_LAST_USED = "coalesce(last_accessed_at, created_at)"


class PgMaintenance:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def _rows(self, query: sql.Composed | sql.SQL, params: Mapping[str, Any]
                    ) -> list[Row]:
        cur = await self._conn.execute(query, params)
        return await cur.fetchall()

    async def record_access(self, accesses: Mapping[str, datetime]) -> None:
        if not accesses:
            return
        await self._conn.execute(
            "UPDATE files f SET last_accessed_at = greatest(f.last_accessed_at, a.at)"
            " FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[]) AS a(id, at)"
            " WHERE f.id = a.id",
            {"ids": list(accesses), "ats": list(accesses.values())})

    async def bytes_by_tier(self, user_id: str) -> dict[str, int]:
        cur = await self._conn.execute(
            # file_totals: kept by triggers (migration 0006), a few rows per owner
            "SELECT storage_tier, sum(bytes)::bigint AS bytes FROM file_totals"
            " WHERE user_id = %s GROUP BY storage_tier HAVING sum(files) > 0", (user_id,))
        return {row["storage_tier"]: int(row["bytes"]) for row in await cur.fetchall()}

    async def tier_candidates(self, thresholds: TierThresholds, limit: int) -> list[Row]:
        # Each tier's files that belong in another: older than their tier's threshold, or
        # used since the threshold of the tier above (read again: back up).
        query = sql.SQL(
            "SELECT {cols}, {used} AS last_used FROM files"
            " WHERE deleted_at IS NULL AND rehydration_requested_at IS NULL AND ("
            " (storage_tier = 'hot' AND {used} < %(cool)s)"
            " OR (storage_tier = 'cool' AND ({used} < %(cold)s OR {used} >= %(cool)s))"
            " OR (storage_tier = 'cold' AND ({used} < %(archive)s OR {used} >= %(cold)s)))"
            " ORDER BY {used} LIMIT %(limit)s"
        ).format(cols=SELECT_FILE, used=sql.SQL(_LAST_USED))
        return await self._rows(query, {"cool": thresholds.cool, "cold": thresholds.cold,
                                        "archive": thresholds.archive, "limit": limit})

    async def set_tier(self, file_id: str, tier: str, at: datetime, *,
                       rehydrating: bool = False) -> None:
        await self._conn.execute(
            "UPDATE files SET storage_tier = %(tier)s::text,"
            " tier_changed_at = CASE WHEN storage_tier = %(tier)s::text THEN tier_changed_at"
            " ELSE %(at)s::timestamptz END,"
            " rehydration_requested_at = CASE WHEN %(rehydrating)s::boolean"
            " THEN coalesce(rehydration_requested_at, %(at)s::timestamptz) END"
            " WHERE id = %(id)s",
            {"tier": tier, "at": at, "rehydrating": rehydrating, "id": file_id})

    async def rehydrating(self, limit: int) -> list[Row]:
        return await self._rows(sql.SQL(
            "SELECT {cols} FROM files WHERE rehydration_requested_at IS NOT NULL"
            " ORDER BY rehydration_requested_at LIMIT %(limit)s").format(cols=SELECT_FILE),
            {"limit": limit})

    async def verification_batch(self, limit: int) -> list[Row]:
        return await self._rows(sql.SQL(
            "SELECT {cols} FROM files WHERE storage_tier <> 'archive'"
            " ORDER BY integrity_checked_at NULLS FIRST, id LIMIT %(limit)s"
        ).format(cols=SELECT_FILE), {"limit": limit})

    async def mark_verified(self, file_id: str, at: datetime) -> None:
        await self._conn.execute(
            "UPDATE files SET integrity_checked_at = %s WHERE id = %s", (at, file_id))

    async def files_after(self, provider: str, after: str, limit: int) -> list[Row]:
        return await self._rows(sql.SQL(
            "SELECT {cols} FROM files WHERE storage_provider = %(provider)s"
            " AND file_path COLLATE \"C\" > %(after)s"
            " ORDER BY file_path COLLATE \"C\" LIMIT %(limit)s").format(cols=SELECT_FILE),
            {"provider": provider, "after": after, "limit": limit})

    async def backups_after(self, after: str, limit: int) -> list[Row]:
        return await self._rows(sql.SQL(
            "SELECT file_path, file_id::text AS file_id, state, checksum_sha256"
            " FROM file_backups WHERE file_path COLLATE \"C\" > %(after)s"
            " ORDER BY file_path COLLATE \"C\" LIMIT %(limit)s"),
            {"after": after, "limit": limit})

    async def backup_record(self, path: str) -> Row | None:
        cur = await self._conn.execute(
            "SELECT file_path, file_id::text AS file_id, state, checksum_sha256"
            " FROM file_backups WHERE file_path = %s", (path,))
        return await cur.fetchone()

    async def save_report(self, trigger: str, started_at: datetime, finished_at: datetime,
                          report: Row) -> None:
        await self._conn.execute(
            "INSERT INTO reconciliation_reports (trigger, started_at, finished_at, report)"
            " VALUES (%s, %s, %s, %s)", (trigger, started_at, finished_at, Jsonb(report)))

    async def last_report(self) -> Row | None:
        cur = await self._conn.execute(
            "SELECT trigger, started_at, finished_at, report FROM reconciliation_reports"
            " ORDER BY started_at DESC LIMIT 1")
        return await cur.fetchone()
