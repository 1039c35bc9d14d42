"""SQL of file listings (``GET /files``) at a million files per owner (issue 11).

Every listing is served by an index of migration 0006: per owner, live or trashed, by sort
key then id; the page's ids are found first (an index-only scan when the filters allow,
so that deep OFFSETs count index entries, not rows) and only the page's rows are read.
``after`` (keyset) starts right after a row with a row comparison the same index serves.

Totals: unfiltered listings read ``file_totals`` (kept by triggers, exact); filtered ones
are counted up to ``count_up_to`` rows, beyond which the planner's estimate is given.

Search: a case-insensitive substring of the name, the description or the tags (joined by
spaces). ``files_search_grams`` (the GIN index) narrows the candidates, ILIKE decides.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from psycopg import AsyncConnection, sql

from shared.db.repository import FileListing, FilePage, Row

Connection = AsyncConnection[dict[str, Any]]
# A search first walks the sort's index testing each row (ILIKE), at most DENSE_WALK rows
# (or 25 per row wanted, for deep pages, up to MAX_WALK): a common needle fills its page
# within a few hundred rows, which the gram index would hand over as tens of thousands of
# candidates to read and sort. A needle the walk does not fill its page with is rare: its
# candidates come from the gram index, are read, sorted and counted.
DENSE_WALK = 600
MAX_WALK = 20_000
# Files matched by their extracted text (file_texts), at most (beyond, some text matches
# may be missed; names, descriptions and tags still match in full).
TEXT_MATCHES = 1000
# The searched fields, as ILIKE sees them (and as files_search_grams indexes them).
SEARCHED = ("original_name", "coalesce(description, '')", "array_to_string(tags, ' ')")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def where(listing: FileListing, *, grams: bool = True) -> tuple[sql.Composable, dict[str, Any]]:
    """The listing's conditions (without ``after``) and their parameters; ``grams``: with
    the search index's condition (else ILIKE only)."""
    clauses: list[sql.Composable] = [
        sql.SQL("deleted_at IS NOT NULL" if listing.trashed else "deleted_at IS NULL")
    ]
    params: dict[str, Any] = {}
    if listing.owner is not None:
        clauses.append(sql.SQL("user_id = %(owner)s"))
        params["owner"] = listing.owner
    for column in ("project_id", "file_type"):
        value = getattr(listing, column)
        if value:
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(column),
                                                     sql.Placeholder(column)))
            params[column] = value
    if listing.search:
        matches = _matches(listing, params)
        if grams:
            gram = sql.SQL("files_search_grams(original_name, description, tags)"
                           " @> files_needle_grams(%(needle)s)")
            params["needle"] = listing.search
            matches = (sql.SQL("({} OR id = ANY(%(text_ids)s::uuid[]))").format(gram)
                       if listing.text_ids else gram) + sql.SQL(" AND ") + matches
        clauses.append(matches)
        params["search"] = f"%{_escape_like(listing.search)}%"
    return sql.SQL(" AND ").join(clauses), params


def _matches(listing: FileListing, params: dict[str, Any]) -> sql.Composable:
    """The search's own test: ILIKE on the fields, or one of the files whose text matched
    (an id list, so that the planner can still OR two index scans)."""
    fields = sql.SQL("({})").format(sql.SQL(" OR ").join(
        sql.SQL(f"{field} ILIKE %(search)s") for field in SEARCHED))
    if not listing.text_ids:
        return fields
    params["text_ids"] = list(listing.text_ids)
    return sql.SQL("({} OR id = ANY(%(text_ids)s::uuid[]))").format(fields)


def _order(listing: FileListing, table: str = "files") -> sql.Composable:
    # sort is one of SortField's names, and an Identifier besides
    direction = sql.SQL("DESC" if listing.descending else "ASC")
    return sql.SQL("{t}.{} {dir}, {t}.id {dir}").format(
        sql.Identifier(listing.sort), t=sql.Identifier(table), dir=direction)


def _after(listing: FileListing, conditions: sql.Composable, params: dict[str, Any]
           ) -> sql.Composable:
    if listing.after is None:
        return conditions
    params["after_value"], params["after_id"] = listing.after
    return sql.SQL("{} AND ({}, id) {} (%(after_value)s, %(after_id)s::uuid)").format(
        conditions, sql.Identifier(listing.sort),
        sql.SQL("<" if listing.descending else ">"))


def page_query(listing: FileListing, columns: sql.Composable
               ) -> tuple[sql.Composed, dict[str, Any]]:
    """The page's rows (one more than ``limit``: whether more follow). A search reads every
    match to sort them anyway, so its rows also carry the matches' count (``total_count``)."""
    conditions, params = where(listing)
    conditions = _after(listing, conditions, params)
    counted = sql.SQL(", count(*) OVER () AS total_count" if listing.search else "")
    query = sql.SQL(
        "SELECT {cols}{total} FROM (SELECT id AS page_id{counted} FROM files AS page"
        " WHERE {where} ORDER BY {inner} LIMIT %(limit)s OFFSET %(offset)s) AS p"
        " JOIN files ON files.id = p.page_id ORDER BY {outer}"
    ).format(cols=columns, where=conditions, inner=_order(listing, "page"),
             outer=_order(listing), counted=counted,
             total=sql.SQL(", p.total_count" if listing.search else ""))
    return query, {**params, "limit": listing.limit + 1, "offset": listing.offset}


def walk_size(listing: FileListing) -> int:
    return min(max(DENSE_WALK, 25 * (listing.offset + listing.limit + 1)), MAX_WALK)


def dense_search_query(listing: FileListing) -> tuple[sql.Composed, dict[str, Any]]:
    """Search by walking the sort's index and testing each row (ILIKE), at most
    ``walk_size`` rows: the first matches, each with its rank ``n`` in the walk, and the
    walk's last row (``matched`` false) when the walk went that far. (No ORDER BY outside
    the walk, which would read it all: the rows come in the walk's order, and the caller
    sorts them by rank.)"""
    base, params = where(FileListing(**{**vars(listing), "search": None}))
    base = _after(listing, base, params)
    _, search = where(listing, grams=False)
    matches = _matches(listing, params)
    query = sql.SQL(
        "SELECT id::text AS id, n, matched FROM (SELECT id, {matches} AS matched,"
        " row_number() OVER (ORDER BY {order}) AS n FROM files WHERE {where}"
        " ORDER BY {order} LIMIT %(walk)s) AS walk WHERE matched OR n = %(walk)s"
        " LIMIT %(want)s + 1"
    ).format(order=_order(listing), where=base, matches=matches)
    return query, {**params, "search": search["search"], "walk": walk_size(listing),
                   "want": listing.offset + listing.limit + 1}


async def total(conn: Connection, listing: FileListing, seen: int | None
                ) -> tuple[int, bool]:
    """(total, is_estimate); ``seen``: the listing's size when the page showed all of it."""
    if seen is not None:
        return seen, False
    if not listing.filtered:
        mine = "" if listing.owner is None else " AND user_id = %(owner)s"
        cur = await conn.execute(
            "SELECT coalesce(sum(files), 0)::bigint AS n FROM file_totals"
            f" WHERE trashed = %(trashed)s{mine}",
            {"trashed": listing.trashed, "owner": listing.owner})
        row = await cur.fetchone()
        return (int(row["n"]) if row else 0), False
    conditions, params = where(listing)
    cur = await conn.execute(
        sql.SQL("SELECT count(*) AS n FROM (SELECT 1 FROM files WHERE {where}"
                " LIMIT %(cap)s) AS capped").format(where=conditions),
        {**params, "cap": listing.count_up_to + 1})
    row = await cur.fetchone()
    counted = int(row["n"]) if row else 0
    if counted <= listing.count_up_to:
        return counted, False
    cur = await conn.execute(
        sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM files WHERE {where}").format(
            where=conditions), params)
    plan = await cur.fetchone()
    estimate = _plan_rows(plan["QUERY PLAN"] if plan else None)
    return max(estimate, counted), True


def _plan_rows(plan: Any) -> int:
    if isinstance(plan, str):
        plan = json.loads(plan)
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (TypeError, LookupError, ValueError):
        return 0


async def _walked_search(conn: Connection, listing: FileListing, columns: sql.Composable
                         ) -> FilePage | None:
    """The page if the walk found it (enough matches, or the whole listing walked), else
    None. When it stopped at the page, the total is an estimate (the share of matches in
    the walk times the listing's size) unless the listing is small enough to count."""
    query, params = dense_search_query(listing)
    cur = await conn.execute(query, params)
    walked = sorted(await cur.fetchall(), key=lambda r: int(r["n"]))
    found = [r for r in walked if r["matched"]][:params["want"]]
    exhausted = not any(int(r["n"]) == params["walk"] for r in walked)
    if len(found) < params["want"] and not exhausted:
        return None
    ids = [r["id"] for r in found[listing.offset:]]
    cur = await conn.execute(
        sql.SQL("SELECT {cols} FROM files WHERE id = ANY(%(ids)s::uuid[]) ORDER BY {order}")
        .format(cols=columns, order=_order(listing)), {"ids": ids})
    rows: list[Row] = _unexpired((await cur.fetchall())[:listing.limit], listing)
    more = len(found) >= params["want"]
    if not more and listing.after is None:
        return FilePage(rows=rows, more=False, total=len(found))
    unsearched, _ = await total(conn, FileListing(**{**vars(listing), "search": None}), None)
    if unsearched <= listing.count_up_to or not more:
        count, estimate = await total(conn, listing, None)
    else:
        share = len(found) / max(int(found[-1]["n"]), 1)
        count, estimate = max(round(share * unsearched), len(found)), True
    return FilePage(rows=rows, more=more, total=count, total_is_estimate=estimate)


def _unexpired(rows: list[Row], listing: FileListing) -> list[Row]:
    """Files past ``expires_at`` are gone for readers at once; the timer deletes them at
    its next run. They are dropped from the page here, not in the index walk (which stays
    index-only), so until then a page may hold fewer than ``limit`` files."""
    now = listing.now
    if now is None:
        return rows
    return [r for r in rows if r["expires_at"] is None or r["expires_at"] > now]


async def text_matches(conn: Connection, listing: FileListing) -> tuple[str, ...]:
    """Ids of the listing owner's files whose extracted text holds the searched words
    (French stems or exact words), at most TEXT_MATCHES of them, from the text index."""
    cur = await conn.execute(
        "SELECT ft.file_id::text AS id FROM file_texts ft JOIN files f ON f.id = ft.file_id"
        " WHERE ft.search_vector @@ (plainto_tsquery('french', %(q)s)"
        " || plainto_tsquery('simple', %(q)s))"
        " AND (%(owner)s::text IS NULL OR f.user_id = %(owner)s) LIMIT %(cap)s",
        {"q": listing.search, "owner": listing.owner, "cap": TEXT_MATCHES})
    return tuple(row["id"] for row in await cur.fetchall())


async def page(conn: Connection, listing: FileListing, columns: sql.Composable) -> FilePage:
    if listing.search and not listing.text_ids:
        listing = replace(listing, text_ids=await text_matches(conn, listing))
    if listing.search and (walked := await _walked_search(conn, listing, columns)):
        return walked
    query, params = page_query(listing, columns)
    cur = await conn.execute(query, params)
    rows: list[Row] = await cur.fetchall()
    more = len(rows) > listing.limit
    rows = _unexpired(rows[:listing.limit], listing)
    if listing.search and rows and listing.after is None:
        matches = int(rows[0]["total_count"])
        for row in rows:
            del row["total_count"]
        return FilePage(rows=rows, more=more, total=matches)
    for row in rows:
        row.pop("total_count", None)
    # The whole listing is in sight when it starts at its beginning and ends on this page.
    seen = (listing.offset + len(rows)
            if listing.after is None and not more and (rows or listing.offset == 0) else None)
    count, estimate = await total(conn, listing, seen)
    return FilePage(rows=rows, more=more, total=count, total_is_estimate=estimate)
