"""Health of the service: every dependency probed for real, with its response time.

The database, the primary store and the processing queue are required (503 when one is
down); the backup store and the CDN only degrade the service (200, ``DEGRADED``).

``/health`` is anonymous, so it must not become a way to load the database: an answer is
reused for ``HEALTH_CACHE_SECONDS`` and concurrent callers share one probe run. It says what
an operator needs to read at a glance (status and response time per check, and the
specification's ``pending_jobs``); why a dependency is down (exception, host names) goes to
the log, and the stores' own probe results (container, bucket) and the CDN's host name are
not for anonymous callers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from shared import SERVICE_NAME, SERVICE_VERSION
from shared.aio import SharedRun
from shared.cdn import CDN_SYNC_FAILED
from shared.context import AppContext

log = logging.getLogger("shared.health")

PROBE_TIMEOUT_SECONDS = 1.5  # a health check must answer before its caller gives up
Probe = Callable[[], Awaitable[dict[str, Any]]]
Result = tuple[int, dict[str, Any]]


async def _timed(name: str, probe: Probe) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
        status = "UP"
    except Exception as exc:  # any failure of a dependency is its being down
        log.warning("health: %s is down: %s: %s", name, type(exc).__name__, exc)
        # Exception names and hosts stay in the log; the CDN's own vocabulary (each provider's
        # status, CDN_SYNC_FAILED) is what an operator needs.
        extra = {"error": exc.code, **exc.details} if isinstance(exc, CdnDown) else {}
        status = "DOWN"
    elapsed = round((time.perf_counter() - started) * 1000)
    return {"status": status, "responseTime": f"{elapsed}ms", **extra}


def _quiet(probe: Callable[[], Awaitable[object]]) -> Probe:
    """The probe, its result kept inside the service."""
    async def run() -> dict[str, Any]:
        await probe()
        return {}

    return run


class CdnDown(Exception):
    code = CDN_SYNC_FAILED

    def __init__(self, providers: list[dict[str, Any]]) -> None:
        super().__init__(CDN_SYNC_FAILED)
        self.details = {"providers": providers}


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if count < 1024 or unit == "TB":
            return f"{count:.1f}{unit}" if unit != "B" else f"{int(count)}B"
        count /= 1024
    raise AssertionError("unreachable")


async def cdn_check(ctx: AppContext) -> dict[str, Any]:
    """Every provider probed for real; hit ratio and cache size where it gives them (the
    first provider that does), each provider's own status beside."""
    if not ctx.cdn:
        return {"providers": []}
    results = await asyncio.gather(*(p.probe() for p in ctx.cdn), return_exceptions=True)
    providers: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for provider, result in zip(ctx.cdn, results, strict=True):
        if isinstance(result, BaseException):
            providers.append({"provider": provider.name, "status": "DOWN",
                              "error": CDN_SYNC_FAILED})
            continue
        providers.append({"provider": provider.name, "status": "UP"})
        if result.get("hit_ratio") is not None:
            summary.setdefault("hit_ratio", f"{100 * result['hit_ratio']:.1f}%")
        if result.get("cache_size_bytes") is not None:
            summary.setdefault("cache_size", _size(result["cache_size_bytes"]))
    if any(p["status"] == "DOWN" for p in providers):
        raise CdnDown(providers)
    return {**summary, "providers": providers}


def _probes(ctx: AppContext) -> dict[str, Probe]:
    async def database() -> dict[str, Any]:
        async with ctx.db.connection() as repo:
            await repo.ping()
        return {}

    async def queue() -> dict[str, Any]:
        return {"pending_jobs": await ctx.queues.pending(ctx.settings.transform_queue)}

    async def cdn() -> dict[str, Any]:
        return await cdn_check(ctx)

    # The primary store is reported under its provider's name (azure_blob or aws_s3).
    probes: dict[str, Probe] = {"database": database,
                                ctx.stores.primary.name: _quiet(ctx.stores.primary.probe),
                                "processing_queue": queue, "cdn": cdn}
    if ctx.settings.backup_enabled:
        # With an S3 primary, "aws_s3" names the primary; the backup gets its own name.
        backup = "aws_s3_backup" if ctx.stores.primary.name == "aws_s3" else "aws_s3"
        probes[backup] = _quiet(ctx.backup.probe)
    return probes


async def _probe(ctx: AppContext) -> Result:
    probes = _probes(ctx)
    required = {"database", ctx.stores.primary.name, "processing_queue"}
    results = await asyncio.gather(*(_timed(name, p) for name, p in probes.items()))
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


class _Health:
    """One instance's last answer, reused until ``until`` (monotonic clock), and the probe
    run that concurrent callers share."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.result: Result | None = None
        self.until = 0.0
        self.run = SharedRun(self._probe_and_keep)

    async def _probe_and_keep(self) -> Result:
        result = await _probe(self.ctx)
        self.result, self.until = result, time.monotonic() + self.ctx.settings.health_cache_seconds
        return result

    async def check(self) -> Result:
        if self.result is not None and time.monotonic() < self.until:
            return self.result
        return await self.run()


_current: _Health | None = None


async def check(ctx: AppContext) -> Result:
    """The service's health: the last answer while it is recent, else one shared probe."""
    global _current
    if _current is None or _current.ctx is not ctx:
        _current = _Health(ctx)
    return await _current.check()
