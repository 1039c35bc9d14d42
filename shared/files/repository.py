"""SQL for files, usage and backup state. Functions take a connection so that the caller
decides the unit of work (one transaction spans quota, row and backup state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from shared.files.models import ListQuery

FILE_COLUMNS = """
    id::text AS id, user_id, project_id, original_name, file_path, file_type, mime_type,
    size_bytes, checksum_md5, checksum_sha256, storage_provider, storage_tier,
    encryption_key_id, is_public, expires_at, created_at, updated_at, deleted_at,
    description, tags, custom_fields, auto_transform, recovery_deadline, last_accessed_at,
    stored_size_bytes, encryption
"""

Row = dict[str, Any]


async def insert_file(conn: AsyncConnection, values: Row) -> Row:
    values = {**values, "custom_fields": Jsonb(values.get("custom_fields") or {}),
              "encryption": Jsonb(values["encryption"]) if values.get("encryption") else None}
    columns = list(values)
    query = sql.SQL("INSERT INTO files ({cols}) VALUES ({vals}) RETURNING {ret}").format(
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        vals=sql.SQL(", ").join(map(sql.Placeholder, columns)),
        ret=sql.SQL(FILE_COLUMNS),
    )
    cur = await conn.execute(query, values)
    return await cur.fetchone()


async def get_file(conn: AsyncConnection, file_id: str, *, for_update: bool = False
                   ) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    cur = await conn.execute(
        f"SELECT {FILE_COLUMNS} FROM files WHERE id = %s{lock}", (file_id,)
    )
    return await cur.fetchone()


async def get_file_by_path(conn: AsyncConnection, path: str) -> Row | None:
    cur = await conn.execute(f"SELECT {FILE_COLUMNS} FROM files WHERE file_path = %s", (path,))
    return await cur.fetchone()


async def find_live_duplicate(conn: AsyncConnection, user_id: str, sha256: str) -> str | None:
    cur = await conn.execute(
        "SELECT id::text FROM files WHERE user_id = %s AND checksum_sha256 = %s"
        " AND deleted_at IS NULL",
        (user_id, sha256),
    )
    row = await cur.fetchone()
    return row["id"] if row else None


def _list_filters(owner: str | None, query: ListQuery) -> tuple[sql.Composable, dict]:
    clauses: list[sql.Composable] = [
        sql.SQL("deleted_at IS NOT NULL" if query.trashed else "deleted_at IS NULL")
    ]
    params: dict[str, Any] = {}
    if owner is not None:
        clauses.append(sql.SQL("user_id = %(owner)s"))
        params["owner"] = owner
    if query.project_id:
        clauses.append(sql.SQL("project_id = %(project_id)s"))
        params["project_id"] = query.project_id
    if query.file_type:
        clauses.append(sql.SQL("file_type = %(file_type)s"))
        params["file_type"] = query.file_type
    if query.search:
        clauses.append(sql.SQL(
            "(original_name ILIKE %(search)s OR coalesce(description, '') ILIKE %(search)s"
            " OR array_to_string(tags, ' ') ILIKE %(search)s)"
        ))
        escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["search"] = f"%{escaped}%"
    return sql.SQL(" AND ").join(clauses), params


async def list_files(conn: AsyncConnection, owner: str | None, query: ListQuery
                     ) -> tuple[list[Row], int]:
    where, params = _list_filters(owner, query)
    order = sql.SQL("{field} {direction}, id {direction}").format(
        field=sql.Identifier(query.sort),  # whitelisted by ListQuery.sort
        direction=sql.SQL("ASC" if query.order == "asc" else "DESC"),
    )
    params |= {"limit": query.limit, "offset": (query.page - 1) * query.limit}
    cur = await conn.execute(
        sql.SQL(
            "SELECT {cols}, count(*) OVER () AS total_count FROM files WHERE {where}"
            " ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"
        ).format(cols=sql.SQL(FILE_COLUMNS), where=where, order=order),
        params,
    )
    rows = await cur.fetchall()
    if rows:
        return rows, rows[0]["total_count"]
    cur = await conn.execute(
        sql.SQL("SELECT count(*) AS n FROM files WHERE {where}").format(where=where), params
    )
    return [], (await cur.fetchone())["n"]


async def update_file(conn: AsyncConnection, file_id: str, changes: Row) -> Row:
    if "custom_fields" in changes:
        changes = {**changes, "custom_fields": Jsonb(changes["custom_fields"])}
    assignments = [
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
    ]
    assignments.append(sql.SQL("updated_at = now()"))
    cur = await conn.execute(
        sql.SQL("UPDATE files SET {sets} WHERE id = %(file_id)s RETURNING {ret}").format(
            sets=sql.SQL(", ").join(assignments), ret=sql.SQL(FILE_COLUMNS)
        ),
        {**changes, "file_id": file_id},
    )
    return await cur.fetchone()


async def delete_file_row(conn: AsyncConnection, file_id: str) -> None:
    await conn.execute("DELETE FROM files WHERE id = %s", (file_id,))


async def metadata_for(conn: AsyncConnection, file_ids: list[str]) -> dict[str, dict]:
    """Extracted metadata grouped by file then by ``metadata_type``."""
    if not file_ids:
        return {}
    cur = await conn.execute(
        "SELECT file_id::text AS file_id, metadata_type, metadata FROM file_metadata"
        " WHERE file_id = ANY(%s::uuid[]) ORDER BY extracted_at",
        (file_ids,),
    )
    grouped: dict[str, dict] = {}
    for row in await cur.fetchall():
        grouped.setdefault(row["file_id"], {})[row["metadata_type"]] = row["metadata"]
    return grouped


async def transformations_for(conn: AsyncConnection, file_id: str) -> list[Row]:
    cur = await conn.execute(
        "SELECT id::text AS id, transformation_type AS type, status, progress_percent,"
        " target_file_id::text AS output_file_id, error_message"
        " FROM file_transformations WHERE source_file_id = %s ORDER BY created_at",
        (file_id,),
    )
    return await cur.fetchall()


async def touch_access(conn: AsyncConnection, file_id: str, now: datetime) -> None:
    await conn.execute("UPDATE files SET last_accessed_at = %s WHERE id = %s", (now, file_id))


# --- usage -----------------------------------------------------------------------------

async def usage_of(conn: AsyncConnection, user_id: str) -> int:
    cur = await conn.execute(
        "SELECT used_bytes FROM storage_usage WHERE user_id = %s", (user_id,)
    )
    row = await cur.fetchone()
    return row["used_bytes"] if row else 0


async def reserve_usage(conn: AsyncConnection, user_id: str, size: int, quota: int | None
                        ) -> int | None:
    """Add ``size`` to the user's usage if it fits the quota; the new usage, or None.

    One conditional UPDATE under the row lock, so concurrent uploads cannot both squeeze
    past the quota.
    """
    await conn.execute(
        "INSERT INTO storage_usage (user_id) VALUES (%s) ON CONFLICT (user_id) DO NOTHING",
        (user_id,),
    )
    cur = await conn.execute(
        "UPDATE storage_usage SET used_bytes = used_bytes + %(n)s, file_count = file_count + 1,"
        " updated_at = now() WHERE user_id = %(u)s"
        " AND (%(q)s::bigint IS NULL OR used_bytes + %(n)s <= %(q)s::bigint)"
        " RETURNING used_bytes",
        {"u": user_id, "n": size, "q": quota},
    )
    row = await cur.fetchone()
    return row["used_bytes"] if row else None


async def release_usage(conn: AsyncConnection, user_id: str, size: int) -> None:
    await conn.execute(
        "UPDATE storage_usage SET used_bytes = greatest(used_bytes - %(n)s, 0),"
        " file_count = greatest(file_count - 1, 0), updated_at = now() WHERE user_id = %(u)s",
        {"u": user_id, "n": size},
    )


# --- backup state ---------------------------------------------------------------------

async def record_backup_pending(conn: AsyncConnection, file_id: str, path: str) -> None:
    await conn.execute(
        "INSERT INTO file_backups (file_path, file_id) VALUES (%s, %s)"
        " ON CONFLICT (file_path) DO NOTHING",
        (path, file_id),
    )


async def mark_backup_for_deletion(conn: AsyncConnection, path: str) -> None:
    await conn.execute(
        "UPDATE file_backups SET state = 'delete_pending', updated_at = now()"
        " WHERE file_path = %s",
        (path,),
    )
