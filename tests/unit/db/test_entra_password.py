"""PostgreSQL with Entra auth: every new connection (pooled or the advisory-lock one) is
opened with the managed identity's access token as its password, and the token is fetched
again shortly before it expires, never for each connection."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from azure.core.credentials import AccessToken
from psycopg_pool import PoolTimeout

from shared.db.pg import PostgresDatabase
from shared.db.pg.entra import REFRESH_MARGIN, SCOPE, EntraPassword
from shared.errors import ServiceUnavailable

URL = "postgresql://id-app@db.example:5432/visiobook?sslmode=require"
LIFETIME = 3600


class FakeCredential:
    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"token-{len(self.scopes)}", int(self.clock[0]) + LIFETIME)


class BrokenCredential:
    def get_token(self, *scopes: str) -> AccessToken:
        raise RuntimeError("no identity endpoint")


@pytest.fixture
def clock() -> list[float]:
    return [1_000_000.0]


@pytest.fixture
def credential(clock: list[float]) -> FakeCredential:
    return FakeCredential(clock)


@pytest.fixture
def db(credential: FakeCredential, clock: list[float]) -> PostgresDatabase:
    return PostgresDatabase(URL, password=EntraPassword(credential, clock=lambda: clock[0]))


def test_the_token_is_the_password_and_reused_until_near_expiry(db, credential, clock):
    async def passwords() -> list[str]:
        return [(await db.connection_kwargs())["password"] for _ in range(3)]

    assert asyncio.run(passwords()) == ["token-1"] * 3
    assert credential.scopes == [(SCOPE,)]
    clock[0] += LIFETIME - REFRESH_MARGIN - 1
    assert asyncio.run(db.connection_kwargs())["password"] == "token-1"
    clock[0] += 2  # inside the margin: a new token for new connections
    kwargs = asyncio.run(db.connection_kwargs())
    assert kwargs["password"] == "token-2"
    assert kwargs["autocommit"] is True
    assert credential.scopes == [(SCOPE,), (SCOPE,)]


def test_without_entra_auth_no_password_is_added():
    kwargs = asyncio.run(PostgresDatabase(URL).connection_kwargs())
    assert "password" not in kwargs


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """psycopg's connect, recorded and refused (no server): what each attempt was given."""
    seen: list[dict[str, Any]] = []

    async def connect(cls: type, conninfo: str = "", **kwargs: Any) -> None:
        seen.append({"conninfo": conninfo, **kwargs})
        raise psycopg.OperationalError("refused by the test")

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", classmethod(connect))
    return seen


def test_pooled_connections_are_opened_with_the_current_token(db, clock, connects):
    async def attempt() -> None:
        try:
            pool = await db._pools.get()  # the pool db.connection() uses, waited on briefly
            with pytest.raises(PoolTimeout):
                async with pool.connection(timeout=0.5):
                    pass
        finally:
            await db._pools.close()

    asyncio.run(attempt())
    assert connects and connects[0]["conninfo"] == URL
    assert connects[0]["password"] == "token-1"
    clock[0] += LIFETIME
    asyncio.run(attempt())
    assert connects[-1]["password"] == "token-2"


def test_the_advisory_lock_connection_uses_the_token_too(db, connects):
    async def attempt() -> None:
        async with db.exclusive("reconcile"):
            pass

    with pytest.raises(psycopg.OperationalError):
        asyncio.run(attempt())
    assert connects == [{"conninfo": URL, "password": "token-1", "autocommit": True,
                         "row_factory": connects[0]["row_factory"], "connect_timeout": 5}]


def test_a_credential_failure_is_a_service_unavailable_without_detail():
    db = PostgresDatabase(URL, password=EntraPassword(BrokenCredential()))
    with pytest.raises(ServiceUnavailable) as caught:
        asyncio.run(db.connection_kwargs())
    assert caught.value.status == 503
    assert "RuntimeError" in caught.value.message
    assert "no identity endpoint" not in caught.value.message
