"""Health of the service: every dependency probed for real, with its response time.

The database, the primary store and the processing queue are required (503 when one is
down); the backup store and the CDN only degrade the service (200, ``DEGRADED``).

``/health`` is anonymous, so it must not become a way to load the database: an answer is
reused for ``HEALTH_CACHE_SECONDS`` and concurrent callers share one probe run. It says what
an operator needs to read at a glance (status and response time per check, and the
specification's ``pending_jobs``); why a dependency is down (exception, host names) goes to
the log, not to anonymous callers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared import SERVICE_NAME, SERVICE_VERSION, db
from shared.aio import SharedRun
from shared.queues import pending_messages
from shared.settings import get_settings
from shared.storage import backup_store, primary_store

log = logging.getLogger("shared.health")

PROBE_TIMEOUT_SECONDS = 1.5  # a health check must answer before its caller gives up
REQUIRED = ("database", "azure_blob", "processing_queue")
Result = tuple[int, dict[str, Any]]


async def _timed(name: str, probe: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
        status = "UP"
    except Exception as exc:  # any failure of a dependency is its being down
        log.warning("health: %s is down: %s: %s", name, type(exc).__name__, exc)
        extra = {}
        status = "DOWN"
    elapsed = round((time.perf_counter() - started) * 1000)
    return {"status": status, "responseTime": f"{elapsed}ms", **extra}


async def _database() -> dict[str, Any]:
    async with db.connection() as conn:
        await conn.execute("SELECT 1")
    return {}


async def _azure_blob() -> dict[str, Any]:
    await primary_store().probe()  # what it returns names the container: not for anyone
    return {}


async def _aws_s3() -> dict[str, Any]:
    await backup_store().probe()
    return {}


async def _queue() -> dict[str, Any]:
    return {"pending_jobs": await pending_messages(get_settings().transform_queue)}


async def _cdn() -> dict[str, Any]:
    return {"provider": "azure_front_door" if get_settings().cdn_endpoint else "none"}


async def _probe() -> Result:
    probes: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "database": _database, "azure_blob": _azure_blob, "processing_queue": _queue,
        "cdn": _cdn,
    }
    if get_settings().backup_enabled:
        probes["aws_s3"] = _aws_s3
    results = await asyncio.gather(*(_timed(name, p) for name, p in probes.items()))
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


@dataclass
class _Recent:
    """The last answer and when it stops being reused (monotonic clock)."""

    result: Result | None = None
    until: float = 0.0


_recent = _Recent()


async def _probe_and_keep() -> Result:
    result = await _probe()
    _recent.result = result
    _recent.until = time.monotonic() + get_settings().health_cache_seconds
    return result


_shared_probe = SharedRun(_probe_and_keep)


async def check() -> Result:
    """The service's health: the last answer while it is recent, else one shared probe."""
    if _recent.result is not None and time.monotonic() < _recent.until:
        return _recent.result
    return await _shared_probe()
