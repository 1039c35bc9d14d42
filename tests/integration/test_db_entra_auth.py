"""Entra authentication against a real PostgreSQL that checks passwords: the role the app
connects as (named like its managed identity) takes only the current token, which the
database layer sends as the password of each new connection, pooled or not, and fetches
again before it expires. The server stands in for Azure's: a token is a password it checks
at connection time only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from azure.core.credentials import AccessToken
from psycopg import sql

from devhost.postgres import EmbeddedPostgres
from shared.aio import close_loop_resources
from shared.db.pg import PostgresDatabase
from shared.db.pg.entra import REFRESH_MARGIN, EntraPassword

ROLE = "id-visiobook-app"
LIFETIME = 3600


class Issuer:
    """Tokens token-1, token-2, ... each valid an hour from the fake clock's now."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.issued = 0

    def get_token(self, *scopes: str) -> AccessToken:
        self.issued += 1
        return AccessToken(f"token-{self.issued}", int(self.now) + LIFETIME)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    base = tmp_path_factory.mktemp("pg-entra")
    pg = EmbeddedPostgres(base / "data", base / "postgres.log")
    pg.start()
    try:
        with psycopg.connect(pg.uri, autocommit=True) as admin:
            admin.execute(f'CREATE ROLE "{ROLE}" LOGIN')
            hba = pg.pgdata / "pg_hba.conf"
            # The app's role must give its password; the test's superuser stays trusted.
            hba.write_text(f'local all "{ROLE}" scram-sha-256\n' + hba.read_text())
            admin.execute("SELECT pg_reload_conf()")
        yield pg
    finally:
        pg.stop()


def set_password(server: EmbeddedPostgres, token: str) -> None:
    """What Entra does for real: the server accepts this token (and no other) now."""
    with psycopg.connect(server.uri, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(token)))


def app_url(server: EmbeddedPostgres) -> str:
    assert server.socket_dir is not None
    return f"postgresql://{ROLE}@/postgres?host={quote(str(server.socket_dir), safe='/')}"


async def connect_both_ways(db: PostgresDatabase) -> None:
    async with db.connection() as repo:
        await repo.ping()
    async with db.exclusive("entra-test") as taken:
        assert taken


def test_connections_use_the_token_and_a_new_one_before_expiry(server):
    issuer = Issuer()
    db = PostgresDatabase(app_url(server), pool_max=2,
                          password=EntraPassword(issuer, clock=lambda: issuer.now))
    set_password(server, "token-1")

    async def scenario() -> None:
        try:
            await connect_both_ways(db)  # a pooled and an advisory-lock connection
            assert issuer.issued == 1
            # Near expiry: the server now wants the next token; new connections bring it.
            issuer.now += LIFETIME - REFRESH_MARGIN + 1
            set_password(server, "token-2")
            async with db.exclusive("entra-test") as taken:
                assert taken
            assert issuer.issued == 2
            async with db.connection() as repo:  # the pooled one still open: no new token
                await repo.ping()
            assert issuer.issued == 2
        finally:
            await close_loop_resources()

    asyncio.run(scenario())


def test_without_the_token_the_server_refuses(server):
    set_password(server, "token-1")

    async def attempt() -> None:
        async with PostgresDatabase(app_url(server)).exclusive("entra-test"):
            pass

    with pytest.raises(psycopg.OperationalError, match="password"):
        asyncio.run(attempt())


def test_a_stale_token_is_refused_so_the_refresh_is_what_lets_it_in(server):
    issuer = Issuer()
    db = PostgresDatabase(app_url(server),
                          password=EntraPassword(issuer, clock=lambda: issuer.now))
    set_password(server, "token-1")

    async def lock() -> None:
        async with db.exclusive("entra-test"):
            pass

    asyncio.run(lock())
    set_password(server, "token-2")  # rotated, but the cached token is still "valid"
    with pytest.raises(psycopg.OperationalError, match="password"):
        asyncio.run(lock())
    issuer.now += LIFETIME
    asyncio.run(lock())
    assert issuer.issued == 2
