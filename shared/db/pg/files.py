"""SQL of the ``files`` table and what hangs off it (extracted metadata, transformations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.types.json import Jsonb

from shared.db.repository import FILE_COLUMNS, DuplicateKey, FileListing, Row

# extracted text (issue 9): shared/db/pg/processing.py
TEXT_MATCH = (
    "EXISTS (SELECT 1 FROM file_texts ft WHERE ft.file_id = files.id AND ft.search_vector @@"
    " (plainto_tsquery('french', %(text_query)s) || plainto_tsquery('simple', %(text_query)s)))"
)

SELECT_FILE = sql.SQL(", ").join(
    sql.SQL("id::text AS id") if column == "id" else sql.Identifier(column)
    for column in FILE_COLUMNS
)


def _jsonb(values: Row) -> Row:
    out = dict(values)
    if "custom_fields" in out:
        out["custom_fields"] = Jsonb(out["custom_fields"] or {})
    if out.get("encryption") is not None:
        out["encryption"] = Jsonb(out["encryption"])
    return out


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(listing: FileListing) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [
        sql.SQL("deleted_at IS NOT NULL" if listing.trashed else "deleted_at IS NULL")
    ]
    params: dict[str, Any] = {}
    for column in ("project_id", "file_type"):
        value = getattr(listing, column)
        if value:
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(column),
                                                     sql.Placeholder(column)))
            params[column] = value
    if listing.owner is not None:
        clauses.append(sql.SQL("user_id = %(owner)s"))
        params["owner"] = listing.owner
    if listing.search:
        clauses.append(sql.SQL(
            "(original_name ILIKE %(search)s OR coalesce(description, '') ILIKE %(search)s"
            " OR array_to_string(tags, ' ') ILIKE %(search)s OR {text})"
        ).format(text=sql.SQL(TEXT_MATCH)))
        params["search"] = f"%{_escape_like(listing.search)}%"
        params["text_query"] = listing.search
    return sql.SQL(" AND ").join(clauses), params


class PgFiles:
    def __init__(self, conn: AsyncConnection[dict[str, Any]]) -> None:
        self._conn = conn

    async def _one(self, query: sql.Composed, params: Row) -> Row:
        try:
            cur = await self._conn.execute(query, params)
        except errors.UniqueViolation as exc:
            raise DuplicateKey(str(exc)) from exc
        row = await cur.fetchone()
        assert row is not None
        return row

    async def insert(self, values: Row) -> Row:
        values = _jsonb(values)
        query = sql.SQL("INSERT INTO files ({cols}) VALUES ({vals}) RETURNING {ret}").format(
            cols=sql.SQL(", ").join(map(sql.Identifier, values)),
            vals=sql.SQL(", ").join(map(sql.Placeholder, values)),
            ret=SELECT_FILE,
        )
        return await self._one(query, values)

    async def get(self, file_id: str, *, for_update: bool = False) -> Row | None:
        query = sql.SQL("SELECT {cols} FROM files WHERE id = %(id)s{lock}").format(
            cols=SELECT_FILE, lock=sql.SQL(" FOR UPDATE" if for_update else ""))
        cur = await self._conn.execute(query, {"id": file_id})
        return await cur.fetchone()

    async def live_duplicate(self, user_id: str, sha256: str) -> str | None:
        cur = await self._conn.execute(
            "SELECT id::text AS id FROM files WHERE user_id = %s AND checksum_sha256 = %s"
            " AND deleted_at IS NULL", (user_id, sha256))
        row = await cur.fetchone()
        return row["id"] if row else None

    async def page(self, listing: FileListing) -> tuple[list[Row], int]:
        where, params = _where(listing)
        direction = sql.SQL("DESC" if listing.descending else "ASC")
        # sort is one of SortField's names, and an Identifier besides
        order = sql.SQL("{} {dir}, id {dir}").format(sql.Identifier(listing.sort),
                                                    dir=direction)
        cur = await self._conn.execute(
            sql.SQL("SELECT {cols}, count(*) OVER () AS total_count FROM files WHERE {where}"
                    " ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"
                    ).format(cols=SELECT_FILE, where=where, order=order),
            {**params, "limit": listing.limit, "offset": listing.offset},
        )
        rows = await cur.fetchall()
        if rows:
            total = rows[0]["total_count"]
            return [{k: v for k, v in row.items() if k != "total_count"} for row in rows], total
        cur = await self._conn.execute(
            sql.SQL("SELECT count(*) AS n FROM files WHERE {where}").format(where=where), params)
        counted = await cur.fetchone()
        return [], counted["n"] if counted else 0

    async def update(self, file_id: str, changes: Row) -> Row:
        changes = _jsonb(changes)
        sets: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes]
        sets.append(sql.SQL("updated_at = now()"))
        query = sql.SQL("UPDATE files SET {sets} WHERE id = %(file_id)s RETURNING {ret}").format(
            sets=sql.SQL(", ").join(sets), ret=SELECT_FILE)
        return await self._one(query, {**changes, "file_id": file_id})

    async def delete(self, file_id: str) -> None:
        await self._conn.execute("DELETE FROM files WHERE id = %s", (file_id,))

    async def add_metadata(self, file_id: str, metadata_type: str, metadata: Row) -> None:
        await self._conn.execute(
            "INSERT INTO file_metadata (file_id, metadata_type, metadata) VALUES (%s, %s, %s)",
            (file_id, metadata_type, Jsonb(metadata)))

    async def metadata_for(self, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not file_ids:
            return {}
        cur = await self._conn.execute(
            "SELECT file_id::text AS file_id, metadata_type, metadata FROM file_metadata"
            " WHERE file_id = ANY(%s::uuid[]) ORDER BY extracted_at, id", (file_ids,))
        grouped: dict[str, dict[str, Any]] = {}
        for row in await cur.fetchall():
            grouped.setdefault(row["file_id"], {})[row["metadata_type"]] = row["metadata"]
        return grouped

    async def transformations_for(self, file_id: str) -> list[Row]:
        cur = await self._conn.execute(
            "SELECT id::text AS id, transformation_type AS type, status, progress_percent,"
            " target_file_id::text AS output_file_id, error_message"
            " FROM file_transformations WHERE source_file_id = %s ORDER BY created_at",
            (file_id,))
        return await cur.fetchall()

    async def _ids(self, condition: str, now: datetime, limit: int) -> list[str]:
        cur = await self._conn.execute(
            f"SELECT id::text AS id FROM files WHERE {condition} LIMIT %(limit)s",
            {"now": now, "limit": limit})
        return [row["id"] for row in await cur.fetchall()]

    async def trashed_before(self, now: datetime, limit: int) -> list[str]:
        return await self._ids("deleted_at IS NOT NULL AND recovery_deadline < %(now)s",
                               now, limit)

    async def expired_before(self, now: datetime, limit: int) -> list[str]:
        return await self._ids("expires_at IS NOT NULL AND expires_at < %(now)s", now, limit)
