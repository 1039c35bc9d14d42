"""SQL of the CDN: purge requests and their providers' results, ``cdn_cache`` entries, and
the variants a file's CDN URLs resolve to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from shared.db.edge import CachedUrl, PurgeStatus, Row

Connection = AsyncConnection[dict[str, Any]]

# The variant a completed transformation's output stands for (shared/db/edge.py).
VARIANT = ("coalesce(transformation_params->>'variant', CASE transformation_type"
           " WHEN 'thumbnail_generation' THEN 'thumbnail' END)")


class PgEdge:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def create_purge(self, *, requested_by: str, reason: str, purge_type: str,
                           file_ids: Sequence[str], urls: Sequence[str],
                           providers: Sequence[str]) -> Row:
        cur = await self._conn.execute(
            "INSERT INTO cdn_purge_requests (requested_by, reason, purge_type, file_ids, urls)"
            " VALUES (%s, %s, %s, %s::uuid[], %s) RETURNING id::text AS id",
            (requested_by, reason, purge_type, list(file_ids), list(urls)))
        created = await cur.fetchone()
        assert created is not None
        if providers:
            await self._conn.execute(
                "INSERT INTO cdn_purge_results (purge_id, provider)"
                " SELECT %s, unnest(%s::text[])", (created["id"], list(providers)))
        found = await self.purge(created["id"])
        assert found is not None
        return found

    async def purge(self, purge_id: str) -> Row | None:
        cur = await self._conn.execute(
            "SELECT id::text AS id, requested_by, reason, purge_type,"
            " file_ids::text[] AS file_ids, urls, status, attempts, created_at, updated_at,"
            " completed_at FROM cdn_purge_requests WHERE id = %s", (purge_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        cur = await self._conn.execute(
            "SELECT provider, status, urls_purged, error_code, error_message"
            " FROM cdn_purge_results WHERE purge_id = %s ORDER BY provider", (purge_id,))
        return {**row, "results": await cur.fetchall()}

    async def start_purge(self, purge_id: str) -> None:
        await self._conn.execute(
            "UPDATE cdn_purge_requests SET status = 'processing', attempts = attempts + 1,"
            " updated_at = now() WHERE id = %s", (purge_id,))

    async def set_result(self, purge_id: str, provider: str, status: PurgeStatus, *,
                         urls_purged: int = 0, error_code: str | None = None,
                         error_message: str | None = None) -> None:
        await self._conn.execute(
            "UPDATE cdn_purge_results SET status = %s, urls_purged = %s, error_code = %s,"
            " error_message = %s, updated_at = now() WHERE purge_id = %s AND provider = %s",
            (status, urls_purged, error_code, error_message, purge_id, provider))

    async def finish_purge(self, purge_id: str, status: PurgeStatus, at: datetime) -> None:
        await self._conn.execute(
            "UPDATE cdn_purge_requests SET status = %(status)s::text, updated_at = now(),"
            " completed_at = CASE WHEN %(status)s::text = 'completed'"
            " THEN %(at)s::timestamptz END"
            " WHERE id = %(id)s", {"status": status, "at": at, "id": purge_id})

    async def due_purges(self, now: datetime, limit: int) -> list[str]:
        cur = await self._conn.execute(
            "SELECT id::text AS id FROM cdn_purge_requests WHERE"
            " (status IN ('queued', 'processing') AND updated_at < %(now)s - interval '1 minute')"
            " OR (status = 'failed' AND attempts < 5"
            "     AND updated_at < %(now)s - attempts * interval '1 minute')"
            " ORDER BY updated_at LIMIT %(limit)s", {"now": now, "limit": limit})
        return [row["id"] for row in await cur.fetchall()]

    async def record_cache_purge(self, provider: str, entries: Sequence[CachedUrl],
                                 at: datetime) -> None:
        if not entries:
            return
        await self._conn.execute(
            "INSERT INTO cdn_cache (file_id, cdn_provider, cdn_url, cache_key, purged_at,"
            " expires_at)"
            " SELECT e.file_id, %(provider)s, e.url, e.cache_key, %(at)s, %(at)s"
            " FROM unnest(%(ids)s::uuid[], %(urls)s::text[], %(keys)s::text[])"
            "  AS e(file_id, url, cache_key)"
            " WHERE EXISTS (SELECT 1 FROM files WHERE files.id = e.file_id)"
            " ON CONFLICT (file_id, cdn_provider, cache_key)"
            " DO UPDATE SET purged_at = EXCLUDED.purged_at, expires_at = EXCLUDED.expires_at",
            {"provider": provider, "at": at, "ids": [e.file_id for e in entries],
             "urls": [e.url for e in entries], "keys": [e.cache_key for e in entries]})

    async def variants(self, file_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        if not file_ids:
            return {}
        cur = await self._conn.execute(
            f"SELECT DISTINCT ON (source_file_id, {VARIANT})"
            f" source_file_id::text AS source, {VARIANT} AS variant,"
            " target_file_id::text AS target FROM file_transformations"
            " WHERE source_file_id = ANY(%s::uuid[]) AND status = 'completed'"
            f" AND target_file_id IS NOT NULL AND {VARIANT} IS NOT NULL"
            f" ORDER BY source_file_id, {VARIANT}, completed_at DESC NULLS LAST",
            (list(file_ids),))
        found: dict[str, dict[str, str]] = {}
        for row in await cur.fetchall():
            found.setdefault(row["source"], {})[row["variant"]] = row["target"]
        return found

    async def variant_sources(self, target_id: str) -> list[tuple[str, str]]:
        cur = await self._conn.execute(
            f"SELECT DISTINCT source_file_id::text AS source, {VARIANT} AS variant"
            " FROM file_transformations WHERE target_file_id = %s"
            f" AND source_file_id IS NOT NULL AND {VARIANT} IS NOT NULL", (target_id,))
        return [(row["source"], row["variant"]) for row in await cur.fetchall()]

    async def owned(self, user_id: str, file_ids: Sequence[str]) -> set[str]:
        if not file_ids:
            return set()
        cur = await self._conn.execute(
            "SELECT id::text AS id FROM files WHERE user_id = %s AND id = ANY(%s::uuid[])",
            (user_id, list(file_ids)))
        return {row["id"] for row in await cur.fetchall()}
