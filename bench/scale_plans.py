"""The plan of each listing query of the scale benchmark (EXPLAIN ANALYZE on the database
the API answered from), built by the repository's own code, as the API builds it."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from shared.db import FileListing
from shared.db.pg import listing as listing_sql
from shared.db.pg.files import SELECT_FILE

_NODE = re.compile(r"^\s*(->\s*)?[A-Z][A-Za-z ]+(?: using \w+| on \w+)?")


def listing_query(conn: psycopg.Connection[dict[str, Any]], listing: FileListing
                  ) -> tuple[sql.Composed, dict[str, Any]]:
    """The statement that finds the page (the search path chosen as the repository does)."""
    if listing.search:
        row = conn.execute(
            "SELECT count(*) AS n FROM files WHERE files_search_grams(original_name,"
            " description, tags) @> files_needle_grams(%s)", (listing.search,)).fetchone()
        if row and row["n"] > listing_sql.SPARSE_CANDIDATES:
            return listing_sql.dense_search_query(listing)
    return listing_sql.page_query(listing, SELECT_FILE)


def plan(database_url: str, listing: FileListing) -> tuple[list[str], float, bool]:
    """(the plan's node lines, execution ms, whether a Seq Scan on files appears)."""
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        query, params = listing_query(conn, listing)
        lines = [r["QUERY PLAN"] for r in conn.execute(
            sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ") + query, params)]
    ms = next((float(line.split(":")[1].split()[0]) for line in lines
               if line.startswith("Execution Time")), 0.0)
    nodes = [line.split("  (")[0] for line in lines
             if _NODE.match(line) and not line.startswith(("Planning", "Execution"))]
    return nodes, ms, any("Seq Scan on files" in line for line in lines)
