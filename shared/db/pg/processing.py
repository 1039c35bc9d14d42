"""SQL of the processing pipeline: transformations, variants, extracted text for search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from shared.db.pg.files import SELECT_FILE
from shared.db.processing import MAX_INDEXED_CHARS, Row

Connection = AsyncConnection[dict[str, Any]]

_COLUMNS = (
    "id::text AS id, source_file_id::text AS source_file_id,"
    " target_file_id::text AS target_file_id, transformation_type, transformation_params,"
    " status, progress_percent, error_code, error_message, started_at, completed_at,"
    " created_at, user_id, requested_role, output_name, attempts, heartbeat_at, result,"
    " owns_target"
)
_OPEN = "status IN ('queued', 'processing')"


class PgProcessing:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def _row(self, query: str, params: Any) -> Row | None:
        cur = await self._conn.execute(query, params)
        return await cur.fetchone()

    async def file_by_path(self, path: str, *, for_update: bool = False) -> Row | None:
        query = sql.SQL("SELECT {cols} FROM files WHERE file_path = %s{lock}").format(
            cols=SELECT_FILE, lock=sql.SQL(" FOR UPDATE" if for_update else ""))
        cur = await self._conn.execute(query, (path,))
        return await cur.fetchone()

    async def has_metadata(self, file_id: str, metadata_type: str) -> bool:
        return await self._row("SELECT 1 FROM file_metadata WHERE file_id = %s"
                               " AND metadata_type = %s LIMIT 1",
                               (file_id, metadata_type)) is not None

    async def create(self, values: Row) -> Row:
        values = {**values, "transformation_params": Jsonb(values["transformation_params"])}
        query = sql.SQL("INSERT INTO file_transformations ({cols}, status, heartbeat_at)"
                        " VALUES ({vals}, 'queued', now()) RETURNING " + _COLUMNS).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, values)),
            vals=sql.SQL(", ").join(map(sql.Placeholder, values)))
        cur = await self._conn.execute(query, values)
        row = await cur.fetchone()
        assert row is not None
        return row

    async def get(self, transform_id: str) -> Row | None:
        return await self._row(f"SELECT {_COLUMNS} FROM file_transformations WHERE id = %s",
                               (transform_id,))

    async def queue_position(self, transform_id: str) -> int:
        row = await self._row(
            f"SELECT count(*) AS n FROM file_transformations WHERE {_OPEN} AND created_at <="
            " (SELECT created_at FROM file_transformations WHERE id = %s)", (transform_id,))
        return int(row["n"]) if row else 1

    async def summaries(self, source_id: str) -> list[Row]:
        cur = await self._conn.execute(
            "SELECT id::text AS id, transformation_type AS type, status, progress_percent,"
            " target_file_id::text AS output_file_id, error_message,"
            " (result->>'extracted_text_length')::int AS extracted_text_length"
            " FROM file_transformations WHERE source_file_id = %s ORDER BY created_at, id",
            (source_id,))
        return await cur.fetchall()

    async def claim(self, transform_id: str, stale_before: datetime) -> Row | None:
        return await self._row(
            "UPDATE file_transformations SET status = 'processing', attempts = attempts + 1,"
            " started_at = coalesce(started_at, now()), heartbeat_at = now()"
            " WHERE id = %(id)s AND (status = 'queued'"
            "  OR (status = 'processing' AND heartbeat_at < %(stale)s))"
            f" RETURNING {_COLUMNS}", {"id": transform_id, "stale": stale_before})

    async def heartbeat(self, transform_id: str, progress: int | None = None) -> None:
        await self._conn.execute(
            "UPDATE file_transformations SET heartbeat_at = now(),"
            " progress_percent = greatest(progress_percent, coalesce(%s::int, 0))"
            " WHERE id = %s AND status = 'processing'", (progress, transform_id))

    async def release(self, transform_id: str, error: str) -> None:
        await self._conn.execute(
            "UPDATE file_transformations SET status = 'queued', error_message = %s,"
            " heartbeat_at = now() WHERE id = %s AND status = 'processing'",
            (error[:1000], transform_id))

    async def finish(self, transform_id: str, *, status: str, target_file_id: str | None = None,
                     owns_target: bool = False, result: Row | None = None,
                     error_code: str | None = None, error_message: str | None = None) -> bool:
        row = await self._row(
            "UPDATE file_transformations SET status = %(status)s::text,"
            " target_file_id = %(target)s, owns_target = %(owns)s, result = %(result)s,"
            " error_code = %(code)s,"
            " error_message = %(message)s, completed_at = now(), heartbeat_at = now(),"
            " progress_percent = CASE WHEN %(status)s::text = 'completed' THEN 100"
            "  ELSE progress_percent END"
            f" WHERE id = %(id)s AND {_OPEN} RETURNING id",
            {"status": status, "target": target_file_id, "owns": owns_target,
             "result": Jsonb(result) if result is not None else None, "code": error_code,
             "message": error_message[:1000] if error_message else None, "id": transform_id})
        return row is not None

    async def cancel_for_source(self, source_id: str, reason: str) -> int:
        cur = await self._conn.execute(
            "UPDATE file_transformations SET status = 'failed', error_code = 'CANCELLED',"
            f" error_message = %s, completed_at = now() WHERE source_file_id = %s AND {_OPEN}",
            (reason, source_id))
        return cur.rowcount

    async def variants(self, source_id: str) -> list[Row]:
        cur = await self._conn.execute(
            sql.SQL("SELECT {cols} FROM files WHERE id IN (SELECT target_file_id"
                    " FROM file_transformations WHERE source_file_id = %s AND owns_target)"
                    ).format(cols=SELECT_FILE), (source_id,))
        return await cur.fetchall()

    async def stale(self, stale_before: datetime, limit: int) -> list[Row]:
        cur = await self._conn.execute(
            f"SELECT {_COLUMNS} FROM file_transformations WHERE {_OPEN}"
            " AND coalesce(heartbeat_at, created_at) < %s ORDER BY created_at LIMIT %s",
            (stale_before, limit))
        return await cur.fetchall()

    async def requeue(self, transform_id: str) -> None:
        await self._conn.execute(
            "UPDATE file_transformations SET status = 'queued', heartbeat_at = now()"
            f" WHERE id = %s AND {_OPEN}", (transform_id,))

    async def undescribed(self, before: datetime, limit: int) -> list[str]:
        cur = await self._conn.execute(
            "SELECT file_path FROM files f WHERE deleted_at IS NULL AND created_at < %s"
            " AND NOT EXISTS (SELECT 1 FROM file_metadata m WHERE m.file_id = f.id"
            "  AND m.metadata_type = 'extraction') ORDER BY created_at DESC LIMIT %s",
            (before, limit))
        return [row["file_path"] for row in await cur.fetchall()]

    async def set_text(self, file_id: str, text: str) -> None:
        text = text[:MAX_INDEXED_CHARS]
        await self._conn.execute(
            "INSERT INTO file_texts (file_id, search_vector, text_length)"
            " VALUES (%(id)s, to_tsvector('french', %(text)s) || to_tsvector('simple', %(text)s),"
            " %(length)s) ON CONFLICT (file_id) DO UPDATE SET"
            " search_vector = EXCLUDED.search_vector, text_length = EXCLUDED.text_length,"
            " updated_at = now()", {"id": file_id, "text": text, "length": len(text)})
