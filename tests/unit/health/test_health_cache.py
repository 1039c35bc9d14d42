"""/health: a short-lived shared answer, and nothing in it an operator does not need."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from shared import health
from shared.context import AppContext
from tests.fakes.context import fake_context


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_current", None)


def counted(probe_runs: list[int], release: asyncio.Event | None = None):
    """A database probe that counts its runs and, given ``release``, waits for it."""

    async def database() -> dict[str, Any]:
        probe_runs.append(1)
        if release is not None:
            await release.wait()
        return {}

    return database


def with_database(monkeypatch: pytest.MonkeyPatch, database) -> None:
    real = health._probes

    def probes(ctx: AppContext) -> dict[str, health.Probe]:
        return {**real(ctx), "database": database}

    monkeypatch.setattr(health, "_probes", probes)


def test_concurrent_callers_share_one_probe_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    ctx = fake_context()

    async def burst() -> list[health.Result]:
        release = asyncio.Event()
        with_database(monkeypatch, counted(runs, release))
        callers = [asyncio.create_task(health.check(ctx)) for _ in range(50)]
        await asyncio.sleep(0)  # every caller is waiting on the one run
        release.set()
        return await asyncio.gather(*callers)

    results = asyncio.run(burst())
    assert len(runs) == 1
    assert all(result is results[0] for result in results)


def test_an_answer_is_reused_until_it_is_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    with_database(monkeypatch, counted(runs))
    ctx = fake_context(health_cache_seconds=5)
    now = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    first = asyncio.run(health.check(ctx))
    now[0] += 4.9
    assert asyncio.run(health.check(ctx)) is first and len(runs) == 1
    now[0] += 0.2
    assert asyncio.run(health.check(ctx)) is not first and len(runs) == 2


def test_another_context_is_not_answered_from_the_first_ones_cache() -> None:
    first = asyncio.run(health.check(fake_context()))
    assert asyncio.run(health.check(fake_context())) is not first


def test_a_cancelled_caller_does_not_cancel_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    ctx = fake_context()

    async def scenario() -> health.Result:
        release = asyncio.Event()
        with_database(monkeypatch, counted(runs, release))
        gone = asyncio.create_task(health.check(ctx))
        stays = asyncio.create_task(health.check(ctx))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        return await stays

    code, body = asyncio.run(scenario())
    assert code == 200 and body["checks"]["database"]["status"] == "UP" and len(runs) == 1


def test_a_failed_dependency_says_down_and_nothing_else(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    async def refused() -> dict[str, Any]:
        raise ConnectionRefusedError("connect to db.internal.example:5432 refused")

    with_database(monkeypatch, refused)
    # Other tests in the session may configure logging (disabling existing loggers): hear
    # this logger directly.
    monkeypatch.setattr(health.log, "disabled", False)
    health.log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="shared.health"):
            code, body = asyncio.run(health.check(fake_context()))
    finally:
        health.log.removeHandler(caplog.handler)
    assert code == 503 and body["status"] == "DOWN"
    assert body["checks"]["database"] == {**body["checks"]["database"], "status": "DOWN"}
    assert set(body["checks"]["database"]) == {"status", "responseTime"}
    text = json.dumps(body)
    assert "ConnectionRefusedError" not in text and "db.internal" not in text
    assert "ConnectionRefusedError" in caplog.text and "db.internal" in caplog.text


def test_the_checks_tell_no_names() -> None:
    """The stores' own probe results (container, object count) and the CDN's host name stay
    inside the service; the queue's pending_jobs is the specification's."""
    ctx = fake_context(cdn_endpoint="https://internal-cdn.example.net")
    code, body = asyncio.run(health.check(ctx))
    assert code == 200 and body["status"] == "UP"
    checks = body["checks"]
    assert set(checks) == {"database", ctx.stores.primary.name, "processing_queue", "cdn",
                           "aws_s3"}
    assert checks["processing_queue"]["pending_jobs"] == 0
    assert set(checks["cdn"]) == {"status", "responseTime", "providers"}
    for name in ("database", ctx.stores.primary.name, "aws_s3"):
        assert set(checks[name]) == {"status", "responseTime"}, name
    assert "internal-cdn" not in json.dumps(body) and "files" not in json.dumps(checks)
