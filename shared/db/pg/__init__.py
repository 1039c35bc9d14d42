"""PostgreSQL behind the ``Database`` interface: one small async pool per instance and
event loop (psycopg 3), and the repositories' SQL (``files``, ``usage``, ``backups``,
``maintenance``, ``edge``, ``sessions``, ``processing``).

Serverless instances are many and short-lived, so each keeps few connections
(``DB_POOL_MAX``, default 5) and opens them lazily; idle ones are closed after a minute.
With Entra authentication (``shared.db.pg.entra``), each new connection asks for the current
token as its password.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.aio import LoopLocal
from shared.db.pg.accounting import PgBackups, PgUsage
from shared.db.pg.edge import PgEdge
from shared.db.pg.files import PgFiles
from shared.db.pg.maintenance import PgMaintenance
from shared.db.pg.processing import PgProcessing
from shared.db.pg.sessions import PgSessions
from shared.db.repository import Repository
from shared.errors import ServiceUnavailable

Connection = AsyncConnection[dict[str, Any]]


class PgRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._files = PgFiles(conn)
        self._usage = PgUsage(conn)
        self._backups = PgBackups(conn)
        self._maintenance = PgMaintenance(conn)
        self._edge = PgEdge(conn)
        self._sessions = PgSessions(conn)
        self._processing = PgProcessing(conn)

    @property
    def files(self) -> PgFiles:
        return self._files

    @property
    def usage(self) -> PgUsage:
        return self._usage

    @property
    def backups(self) -> PgBackups:
        return self._backups

    @property
    def maintenance(self) -> PgMaintenance:
        return self._maintenance

    @property
    def edge(self) -> PgEdge:
        return self._edge

    @property
    def sessions(self) -> PgSessions:
        return self._sessions

    @property
    def processing(self) -> PgProcessing:
        return self._processing

    async def ping(self) -> None:
        await self._conn.execute("SELECT 1")


class PostgresDatabase:
    def __init__(self, url: str, *, pool_max: int = 5, pool_timeout: float = 5.0,
                 password: Callable[[], Awaitable[str]] | None = None) -> None:
        """``password``: asked at each new connection (an Entra token), else the URL's."""
        self._url = url
        self._pool_max = pool_max
        self._pool_timeout = pool_timeout
        self._password = password
        self._pools: LoopLocal[AsyncConnectionPool[Connection]] = LoopLocal(self._open_pool)

    async def connection_kwargs(self) -> dict[str, Any]:
        """What each new connection is opened with (the pool calls this for every one)."""
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": True}
        if self._password is not None:
            kwargs["password"] = await self._password()
        return kwargs

    async def _open_pool(self) -> AsyncConnectionPool[Connection]:
        if not self._url:
            raise ServiceUnavailable("DATABASE_URL is not configured")
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            self._url, min_size=0, max_size=self._pool_max, max_idle=60,
            timeout=self._pool_timeout, kwargs=self.connection_kwargs, open=False,
        )
        await pool.open()
        return pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Repository]:
        """A pooled connection in autocommit mode: each call is its own statement."""
        pool = await self._pools.get()
        async with pool.connection() as conn:
            yield PgRepository(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repository]:
        pool = await self._pools.get()
        async with pool.connection() as conn, conn.transaction():
            yield PgRepository(conn)

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """A session-level advisory lock on a connection of its own (outside the pool, so
        that long holders, such as a tus PATCH streaming for minutes, never starve it). The
        server drops the lock with the connection when the holder dies."""
        if not self._url:
            raise ServiceUnavailable("DATABASE_URL is not configured")
        conn = await AsyncConnection.connect(self._url, **await self.connection_kwargs(),
                                             connect_timeout=max(2, int(self._pool_timeout)))
        try:
            cur = await conn.execute(
                "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AS taken", (name,))
            row = await cur.fetchone()
            yield bool(row and row["taken"])
        finally:
            await conn.close()  # closing the session releases its advisory locks
