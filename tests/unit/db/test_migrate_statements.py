"""The migration runner splits a no-transaction file at the semicolons that end statements,
never at those inside quotes, dollar quotes or comments."""

from __future__ import annotations

from shared.db.migrate import MIGRATIONS, NO_TRANSACTION, split_statements


def test_statements_split_outside_quotes_and_comments() -> None:
    script = """-- migrate: no-transaction
-- a comment; with a semicolon
CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);
/* block; comment */ SELECT 'it''s; fine', "odd;name" FROM t;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
DO $body$ BEGIN PERFORM 1; PERFORM $$;$$; END $body$;
-- trailing comment only
"""
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[0].endswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)")
    assert "'it''s; fine'" in statements[1] and '"odd;name"' in statements[1]
    assert statements[2].endswith("$$ SELECT 1; $$")
    assert statements[3].startswith("DO $body$") and statements[3].endswith("END $body$")


def test_unterminated_quotes_end_the_script() -> None:
    assert split_statements("SELECT 1; SELECT 'open;") == ["SELECT 1", "SELECT 'open;"]


def test_migration_0006_runs_without_a_transaction() -> None:
    text = (MIGRATIONS / "0006_scale.sql").read_text()
    assert text.startswith(NO_TRANSACTION)
    code = ["\n".join(line for line in s.splitlines() if not line.startswith("--"))
            for s in split_statements(text)]
    concurrently = [s for s in code if "CONCURRENTLY" in s]
    assert concurrently and all("IF NOT EXISTS" in s or "IF EXISTS" in s for s in concurrently)
