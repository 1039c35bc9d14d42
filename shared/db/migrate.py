"""Apply the numbered SQL migrations in ``shared/db/migrations`` (``python -m shared.db.migrate``).

Each file runs once, in order, in its own transaction; an advisory lock makes concurrent
runs (two instances starting at once, a deployment and a developer) wait for each other.

A file whose first line is ``-- migrate: no-transaction`` runs statement by statement in
autocommit instead, so that it may hold ``CREATE INDEX CONCURRENTLY`` (which PostgreSQL
refuses inside a transaction) and a live database keeps taking writes while its indexes
build. Such a file must be safe to run again after a failure part-way (``IF NOT EXISTS``,
``CREATE OR REPLACE``, statements made atomic with ``DO`` blocks): it is recorded only once
every statement has passed. A concurrent build that failed leaves an INVALID index behind,
which ``IF NOT EXISTS`` would then take for done: before running such a file, invalid
indexes that the file creates are dropped (``DROP INDEX CONCURRENTLY``) to be built again.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import psycopg

from shared.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
NO_TRANSACTION = "-- migrate: no-transaction"
_LOCK_ID = 0x5355_5050  # arbitrary, stable: "SUPP"
_INDEX_NAME = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")
log = logging.getLogger(__name__)


def pending(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS.glob("*.sql")) if p.stem not in applied]


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, split at the semicolons outside quotes, dollar
    quotes and comments (a linear scan, no backtracking)."""
    statements: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in "'\"":
            end = text.find(char, i + 1)
            while end >= 0 and text.startswith(char, end + 1):  # doubled quote: escaped
                end = text.find(char, end + 2)
            i = n if end < 0 else end + 1
        elif char == "$" and (tag := _DOLLAR_TAG.match(text, i)):
            end = text.find(tag.group(), tag.end())
            i = n if end < 0 else end + len(tag.group())
        elif char == ";":
            statements.append(text[start:i].strip())
            start = i = i + 1
        else:
            i += 1
    statements.append(text[start:].strip())
    return [s for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--")
               for line in statement.splitlines())


def invalid_indexes(conn: psycopg.Connection[tuple[object, ...]], names: list[str]) -> list[str]:
    """Which of these indexes exist but are INVALID (a concurrent build that failed)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE NOT i.indisvalid AND c.relname = ANY(%s)"
        " AND c.relnamespace = current_schema()::regnamespace", (names,))
    return [str(r[0]) for r in rows]


def _run_without_transaction(conn: psycopg.Connection[tuple[object, ...]], text: str) -> None:
    statements = split_statements(text)
    names = [m.group(1) for s in statements if (m := _INDEX_NAME.search(s))]
    for name in invalid_indexes(conn, names):
        log.warning("dropping invalid index %s (a concurrent build failed) to build it again",
                    name)
        conn.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    for statement in statements:
        conn.execute(statement)


def migrate(database_url: str, until: str | None = None) -> list[str]:
    """Apply the pending migrations (only those up to ``until``, a version, if given)."""
    done: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for path in pending(applied):
                if until is not None and path.stem > until:
                    break
                text = path.read_text()
                if text.startswith(NO_TRANSACTION):
                    _run_without_transaction(conn, text)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)",
                                 (path.stem,))
                else:
                    with conn.transaction():
                        conn.execute(text)
                        conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,)
                        )
                done.append(path.stem)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return done


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    url = get_settings().database_url
    if not url:
        print("DATABASE_URL is not set", file=sys.stderr)
        return 2
    done = migrate(url)
    print(f"migrations applied: {', '.join(done) if done else 'none (up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
