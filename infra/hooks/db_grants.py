"""Make the app's managed identity a PostgreSQL role with data rights only (predeploy hook).

Run as the server's Entra administrator after the migrations (PGPASSWORD holds its token).
The role is created once (``pgaadauth_create_principal_with_oid``, in the ``postgres``
database); the grants are given again after every migration run, so new tables are covered.
Reads AZURE_POSTGRES_HOST, AZURE_POSTGRES_DATABASE, AZURE_PRINCIPAL_NAME,
AZURE_APP_IDENTITY_NAME and AZURE_APP_IDENTITY_PRINCIPAL_ID.
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql


def _connect(database: str) -> psycopg.Connection:
    return psycopg.connect(
        host=os.environ["AZURE_POSTGRES_HOST"], port=5432, dbname=database,
        user=os.environ["AZURE_PRINCIPAL_NAME"], sslmode="require", autocommit=True,
    )


def ensure_role(role: str, object_id: str) -> None:
    with _connect("postgres") as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute("SELECT * FROM pgaadauth_create_principal_with_oid"
                         "(%s, %s, 'service', false, false)", (role, object_id))


def grant(database: str, role: str) -> None:
    who = sql.Identifier(role)
    with _connect(database) as conn:
        for statement in (
            "GRANT CONNECT ON DATABASE {db} TO {who}",
            "GRANT USAGE ON SCHEMA public TO {who}",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
            "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {who}",
        ):
            conn.execute(sql.SQL(statement).format(db=sql.Identifier(database), who=who))


def main() -> int:
    role = os.environ["AZURE_APP_IDENTITY_NAME"]
    database = os.environ["AZURE_POSTGRES_DATABASE"]
    ensure_role(role, os.environ["AZURE_APP_IDENTITY_PRINCIPAL_ID"])
    grant(database, role)
    print(f"{role}: data rights on {database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
