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


def listing_queries(conn: psycopg.Connection[dict[str, Any]], listing: FileListing
                    ) -> list[tuple[sql.Composed, dict[str, Any]]]:
    """The statements that find the page, the search's path chosen as the repository does:
    the walk, and the gram index's candidates when the walk fell short."""
    statements = []
    if listing.search:
        walk, params = listing_sql.dense_search_query(listing)
        statements.append((walk, params))
        walked = conn.execute(walk, params).fetchall()
        hits = sum(1 for r in walked if r["matched"])
        if hits >= params["want"] or all(r["n"] != params["walk"] for r in walked):
            return statements
    return [*statements, listing_sql.page_query(listing, SELECT_FILE)]


def plan(database_url: str, listing: FileListing) -> tuple[list[str], float, bool]:
    """(the plans' node lines, execution ms, whether a Seq Scan on files appears)."""
    nodes: list[str] = []
    ms = 0.0
    seq = False
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        for query, params in listing_queries(conn, listing):
            lines = [r["QUERY PLAN"] for r in conn.execute(
                sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ") + query, params)]
            ms += next((float(line.split(":")[1].split()[0]) for line in lines
                        if line.startswith("Execution Time")), 0.0)
            nodes += [line.split("  (")[0] for line in lines
                      if _NODE.match(line) and not line.startswith(("Planning", "Execution"))]
            seq = seq or any("Seq Scan on files" in line for line in lines)
    return nodes, ms, seq
