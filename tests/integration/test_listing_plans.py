"""Every listing query keeps an index (issue 11), on a table seeded by COPY (20,000 rows of
one user, a few hundred of others), with migration 0006 run on the seeded rows the way a
live database takes it (CONCURRENTLY, after an earlier build of one of its indexes failed
and left it INVALID). A later change that loses an index fails here: no plan may hold a
Seq Scan on files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from devhost.seed import RARE_PROJECT, seed_files, sync_usage
from shared.db import FileListing
from shared.db.migrate import invalid_indexes, migrate
from shared.db.pg import listing as listing_sql
from shared.db.pg.files import SELECT_FILE

USER = "plans-user"
ROWS = 20_000
SORTS = ("created_at", "updated_at", "original_name", "size_bytes", "file_type", "mime_type")


@pytest.fixture(scope="module")
def seeded(stack_env: dict[str, str]) -> Iterator[str]:
    base = stack_env["DATABASE_URL"]
    name = f"listing_plans_{uuid.uuid4().hex[:8]}"  # a database of its own, on the stack's
    url = urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        migrate(url, until="0005_lifecycle_cdn")
        seed_files(url, USER, ROWS)
        for n in range(5):
            seed_files(url, f"other-{n}", 100)
        with psycopg.connect(url, autocommit=True) as conn:
            # A concurrent build that failed (here: duplicates under UNIQUE) leaves its
            # index INVALID; IF NOT EXISTS alone would take it for built.
            with pytest.raises(psycopg.errors.UniqueViolation):
                conn.execute("CREATE UNIQUE INDEX CONCURRENTLY idx_files_live_mime"
                             " ON files (mime_type)")
            assert invalid_indexes(conn, ["idx_files_live_mime"]) == ["idx_files_live_mime"]
        assert migrate(url) == ["0006_scale"]
        sync_usage(url)
        yield url
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migration_rebuilt_the_failed_index_and_backfilled_totals(seeded: str) -> None:
    with psycopg.connect(seeded, autocommit=True) as conn:
        assert invalid_indexes(conn, ["idx_files_live_mime"]) == []
        definition = conn.execute(
            "SELECT pg_get_indexdef('idx_files_live_mime'::regclass)").fetchone()
        assert definition and "(user_id, mime_type, id)" in definition[0]
        totals = conn.execute(
            "SELECT trashed, sum(files), sum(bytes) FROM file_totals WHERE user_id = %s"
            " GROUP BY trashed ORDER BY trashed", (USER,)).fetchall()
        counted = conn.execute(
            "SELECT deleted_at IS NOT NULL, count(*), sum(size_bytes) FROM files"
            " WHERE user_id = %s GROUP BY 1 ORDER BY 1", (USER,)).fetchall()
        assert totals == counted and sum(t[1] for t in totals) == ROWS
        assert migrate(seeded) == []  # recorded once


def _cases() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    for sort in SORTS:
        for descending in (True, False):
            order = "desc" if descending else "asc"
            cases[f"{sort}-{order}"] = {"sort": sort, "descending": descending}
            cases[f"trash-{sort}-{order}"] = {"sort": sort, "descending": descending,
                                              "trashed": True}
    cases.update({
        "deep-offset": {"offset": 10_000},
        "after": {"sort": "size_bytes", "after": (50_000_000, "8" * 8 + "-0000-4000-8000-"
                                                  + "0" * 12)},
        "project": {"project_id": "proj-07"},
        "rare-project": {"project_id": RARE_PROJECT},
        "type-size": {"file_type": "video", "sort": "size_bytes"},
        "project-type-name": {"project_id": "proj-07", "file_type": "image",
                              "sort": "original_name"},
        "search-name": {"search": "0012345"},
        "search-word": {"search": "report"},
        "search-tag": {"search": "famille"},
        "search-description": {"search": "équipe", "sort": "size_bytes"},
        "search-short": {"search": "zq"},
        "search-trash": {"search": "photo", "trashed": True},
        # files whose extracted text matched (found first by the text index) join the search
        "search-with-text": {"search": "hippopotame", "text_ids": (
            "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002")},
        "search-common-with-text": {"search": "report", "text_ids": (
            "00000000-0000-4000-8000-000000000003",)},
        "other-owner": {"owner": "other-3"},
    })
    return cases


def _plan(conn: psycopg.Connection[dict[str, Any]], query: sql.Composable,
          params: dict[str, Any]) -> str:
    rows = conn.execute(sql.SQL("EXPLAIN ") + query, params).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


@pytest.mark.parametrize("case", list(_cases()))
def test_each_listing_query_uses_an_index(seeded: str, case: str) -> None:
    listing = FileListing(**{"owner": USER, **_cases()[case]})
    with psycopg.connect(seeded, autocommit=True, row_factory=dict_row) as conn:
        statements = [listing_sql.page_query(listing, SELECT_FILE)]
        if listing.search:
            statements.append(listing_sql.dense_search_query(listing))
        if listing.filtered:
            where, params = listing_sql.where(listing)
            statements.append((sql.SQL("SELECT count(*) FROM (SELECT 1 FROM files WHERE {}"
                                       " LIMIT 1001) AS capped").format(where), params))
        for query, params in statements:
            plan = _plan(conn, query, params)
            assert "Seq Scan on files" not in plan, plan
            assert "Index" in plan, plan
