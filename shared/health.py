"""Health of the service: every dependency probed for real, with its response time.

The database, the primary store and the processing queue are required (503 when one is
down); the backup store and the CDN only degrade the service (200, ``DEGRADED``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from shared import SERVICE_NAME, SERVICE_VERSION, db
from shared.queues import pending_messages
from shared.settings import get_settings
from shared.storage import backup_store, primary_store

PROBE_TIMEOUT_SECONDS = 1.5  # a health check must answer before its caller gives up
REQUIRED = ("database", "azure_blob", "processing_queue")


async def _timed(probe: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
        status = "UP"
    except Exception as exc:  # any failure of a dependency is its being down
        extra = {"error": type(exc).__name__}
        status = "DOWN"
    elapsed = round((time.perf_counter() - started) * 1000)
    return {"status": status, "responseTime": f"{elapsed}ms", **extra}


async def _database() -> dict[str, Any]:
    async with db.connection() as conn:
        await conn.execute("SELECT 1")
    return {}


async def _azure_blob() -> dict[str, Any]:
    return await primary_store().probe()


async def _aws_s3() -> dict[str, Any]:
    return await backup_store().probe()


async def _queue() -> dict[str, Any]:
    return {"pending_jobs": await pending_messages(get_settings().transform_queue)}


async def _cdn() -> dict[str, Any]:
    endpoint = get_settings().cdn_endpoint
    return {"provider": "azure_front_door" if endpoint else "none", "endpoint": endpoint or None}


async def check() -> tuple[int, dict[str, Any]]:
    probes: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "database": _database, "azure_blob": _azure_blob, "processing_queue": _queue,
        "cdn": _cdn,
    }
    if get_settings().backup_enabled:
        probes["aws_s3"] = _aws_s3
    results = await asyncio.gather(*(_timed(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    down = {name for name, result in checks.items() if result["status"] != "UP"}
    if down & set(REQUIRED):
        status, code = "DOWN", 503
    elif down:
        status, code = "DEGRADED", 200
    else:
        status, code = "UP", 200
    return code, {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "service": SERVICE_NAME,
        "version": SERVICE_VERSION,
        "checks": checks,
    }
