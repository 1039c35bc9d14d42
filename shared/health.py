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

from shared import SERVICE_NAME, SERVICE_VERSION
from shared.context import AppContext

PROBE_TIMEOUT_SECONDS = 1.5  # a health check must answer before its caller gives up
Probe = Callable[[], Awaitable[dict[str, Any]]]


async def _timed(probe: Probe) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
        status = "UP"
    except Exception as exc:  # any failure of a dependency is its being down
        extra = {"error": type(exc).__name__}
        status = "DOWN"
    elapsed = round((time.perf_counter() - started) * 1000)
    return {"status": status, "responseTime": f"{elapsed}ms", **extra}


def _probes(ctx: AppContext) -> dict[str, Probe]:
    async def database() -> dict[str, Any]:
        async with ctx.db.connection() as repo:
            await repo.ping()
        return {}

    async def queue() -> dict[str, Any]:
        return {"pending_jobs": await ctx.queues.pending(ctx.settings.transform_queue)}

    async def cdn() -> dict[str, Any]:
        # Reports the configured endpoint only: nothing probes a CDN until one is wired in.
        endpoint = ctx.settings.cdn_endpoint
        return {"provider": "azure_front_door" if endpoint else "none",
                "endpoint": endpoint or None}

    # The primary store is reported under its provider's name (azure_blob or aws_s3).
    probes: dict[str, Probe] = {"database": database, ctx.stores.primary.name:
                                ctx.stores.primary.probe, "processing_queue": queue,
                                "cdn": cdn}
    if ctx.settings.backup_enabled:
        # With an S3 primary, "aws_s3" names the primary; the backup gets its own name.
        backup = "aws_s3_backup" if ctx.stores.primary.name == "aws_s3" else "aws_s3"
        probes[backup] = ctx.backup.probe
    return probes


async def check(ctx: AppContext) -> tuple[int, dict[str, Any]]:
    probes = _probes(ctx)
    required = {"database", ctx.stores.primary.name, "processing_queue"}
    results = await asyncio.gather(*(_timed(p) for p in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    down = {name for name, result in checks.items() if result["status"] != "UP"}
    if down & required:
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
