"""SQL of resumable upload sessions and their accepted parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.types.json import Jsonb

from shared.db.repository import PART_COLUMNS, SESSION_COLUMNS, DuplicateKey, Row

Connection = AsyncConnection[dict[str, Any]]
_JSON = ("metadata", "encryption")
_UUIDS = ("id", "file_id")
_SELECT = sql.SQL(", ").join(
    sql.SQL("{c}::text AS {c}").format(c=sql.Identifier(column)) if column in _UUIDS
    else sql.Identifier(column)
    for column in SESSION_COLUMNS
)
_PART_SELECT = sql.SQL(", ").join(map(sql.Identifier, PART_COLUMNS))


def _adapt(values: Row) -> Row:
    out = dict(values)
    for column in _JSON:
        if out.get(column) is not None:
            out[column] = Jsonb(out[column])
    return out


def _row(found: Row | None) -> Row | None:
    if found is None:
        return None
    for column in ("hash_state", "carry"):
        if found.get(column) is not None:
            found[column] = bytes(found[column])
    return found


class PgSessions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def create(self, values: Row) -> Row:
        values = _adapt(values)
        query = sql.SQL("INSERT INTO upload_sessions ({cols}) VALUES ({vals}) RETURNING {ret}"
                        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, values)),
                                 vals=sql.SQL(", ").join(map(sql.Placeholder, values)),
                                 ret=_SELECT)
        try:
            cur = await self._conn.execute(query, values)
        except errors.UniqueViolation as exc:
            raise DuplicateKey(str(exc)) from exc
        row = _row(await cur.fetchone())
        assert row is not None
        return row

    async def get(self, session_id: str, *, for_update: bool = False) -> Row | None:
        query = sql.SQL("SELECT {cols} FROM upload_sessions WHERE id = %(id)s{lock}").format(
            cols=_SELECT, lock=sql.SQL(" FOR UPDATE" if for_update else ""))
        cur = await self._conn.execute(query, {"id": session_id})
        return _row(await cur.fetchone())

    async def update(self, session_id: str, changes: Row, *, expect: Row | None = None
                     ) -> Row | None:
        params = {f"set_{k}": v for k, v in _adapt(changes).items()}
        sets: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(f"set_{k}"))
            for k in changes]
        sets.append(sql.SQL("updated_at = now()"))
        where: list[sql.Composable] = [sql.SQL("id = %(id)s")]
        for column, value in (expect or {}).items():
            params[f"exp_{column}"] = value
            where.append(sql.SQL("{} IS NOT DISTINCT FROM {}").format(
                sql.Identifier(column), sql.Placeholder(f"exp_{column}")))
        query = sql.SQL("UPDATE upload_sessions SET {sets} WHERE {where} RETURNING {ret}").format(
            sets=sql.SQL(", ").join(sets), where=sql.SQL(" AND ").join(where), ret=_SELECT)
        cur = await self._conn.execute(query, {"id": session_id, **params})
        return _row(await cur.fetchone())

    async def add_part(self, session_id: str, part: Row) -> bool:
        cur = await self._conn.execute(
            "WITH added AS (INSERT INTO upload_parts (session_id, part_no, plain_offset,"
            " plain_length, checksum_md5, blocks) VALUES (%(s)s, %(part_no)s,"
            " %(plain_offset)s, %(plain_length)s, %(checksum_md5)s, %(blocks)s)"
            " ON CONFLICT (session_id, part_no) DO NOTHING RETURNING plain_length)"
            " UPDATE upload_sessions SET received_bytes = received_bytes + added.plain_length,"
            " parts_received = parts_received + 1, updated_at = now()"
            " FROM added WHERE id = %(s)s RETURNING id",
            {"s": session_id, **{c: part[c] for c in PART_COLUMNS}})
        return await cur.fetchone() is not None

    async def part(self, session_id: str, part_no: int) -> Row | None:
        query = sql.SQL("SELECT {cols} FROM upload_parts WHERE session_id = %s AND part_no = %s"
                        ).format(cols=_PART_SELECT)
        cur = await self._conn.execute(query, (session_id, part_no))
        return await cur.fetchone()

    async def parts(self, session_id: str) -> list[Row]:
        query = sql.SQL("SELECT {cols} FROM upload_parts WHERE session_id = %s"
                        " ORDER BY part_no").format(cols=_PART_SELECT)
        cur = await self._conn.execute(query, (session_id,))
        return await cur.fetchall()

    async def expired(self, now: datetime, limit: int) -> list[str]:
        cur = await self._conn.execute(
            "SELECT id::text AS id FROM upload_sessions WHERE state = 'open'"
            " AND expires_at < %s ORDER BY expires_at LIMIT %s", (now, limit))
        return [row["id"] for row in await cur.fetchall()]

    async def purge_ended(self, before: datetime, limit: int) -> int:
        cur = await self._conn.execute(
            "DELETE FROM upload_sessions WHERE id IN (SELECT id FROM upload_sessions"
            " WHERE state <> 'open' AND updated_at < %s LIMIT %s)", (before, limit))
        return cur.rowcount
