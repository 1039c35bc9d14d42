"""PostgreSQL access: one small async connection pool per worker (psycopg 3).

Serverless instances are many and short-lived, so each keeps few connections
(``DB_POOL_MAX``, default 5) and opens them lazily; idle ones are closed after a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from shared.aio import LoopLocal
from shared.errors import ServiceUnavailable
from shared.settings import get_settings


async def _open_pool() -> AsyncConnectionPool:
    settings = get_settings()
    if not settings.database_url:
        raise ServiceUnavailable("DATABASE_URL is not configured")
    pool = AsyncConnectionPool(
        settings.database_url,
        min_size=0,
        max_size=settings.db_pool_max,
        max_idle=60,
        timeout=10,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
    )
    await pool.open()
    return pool


_pools: LoopLocal[AsyncConnectionPool] = LoopLocal(_open_pool)


@asynccontextmanager
async def connection() -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit mode; use ``conn.transaction()`` for units of work."""
    pool = await _pools.get()
    async with pool.connection() as conn:
        yield conn


@asynccontextmanager
async def transaction() -> AsyncIterator[AsyncConnection]:
    async with connection() as conn, conn.transaction():
        yield conn

