"""Apply the numbered SQL migrations in ``shared/db/migrations`` (``python -m shared.db.migrate``).

Each file runs once, in order, in its own transaction; an advisory lock makes concurrent
runs (two instances starting at once, a deployment and a developer) wait for each other.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import psycopg

from shared.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_ID = 0x5355_5050  # arbitrary, stable: "SUPP"
log = logging.getLogger(__name__)


def pending(applied: set[str]) -> list[Path]:
    return [p for p in sorted(MIGRATIONS.glob("*.sql")) if p.stem not in applied]


def migrate(database_url: str) -> list[str]:
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
                with conn.transaction():
                    conn.execute(path.read_text())
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
