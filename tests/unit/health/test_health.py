"""/health: a short-lived shared answer, and nothing in it an operator does not need."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from shared import health
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_recent", health._Recent())
    monkeypatch.setattr(health, "get_settings", lambda: Settings(HEALTH_CACHE_SECONDS="5"))


def up(**extra: Any):
    async def probe() -> dict[str, Any]:
        return dict(extra)

    return probe


def down(exc: Exception):
    async def probe() -> dict[str, Any]:
        raise exc

    return probe


def probes(monkeypatch: pytest.MonkeyPatch, **overrides) -> None:
    values = {"_database": up(), "_azure_blob": up(), "_aws_s3": up(), "_queue": up(),
              "_cdn": up()} | overrides
    for name, probe in values.items():
        monkeypatch.setattr(health, name, probe)


def test_concurrent_callers_share_one_probe_run(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = 0
    release = asyncio.Event()

    async def slow_database() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        await release.wait()
        return {}

    probes(monkeypatch, _database=slow_database)

    async def burst() -> list[health.Result]:
        callers = [asyncio.create_task(health.check()) for _ in range(50)]
        await asyncio.sleep(0)  # every caller is waiting on the one run
        release.set()
        return await asyncio.gather(*callers)

    results = asyncio.run(burst())
    assert runs == 1
    assert all(result is results[0] for result in results)


def test_an_answer_is_reused_until_it_is_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = 0

    async def counted() -> dict[str, Any]:
        nonlocal runs
        runs += 1
        return {}

    probes(monkeypatch, _database=counted)
    now = [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    first = asyncio.run(health.check())
    now[0] += 4.9
    assert asyncio.run(health.check()) is first and runs == 1
    now[0] += 0.2
    assert asyncio.run(health.check()) is not first and runs == 2


def test_a_cancelled_caller_does_not_cancel_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()

    async def slow() -> dict[str, Any]:
        await release.wait()
        return {}

    probes(monkeypatch, _database=slow)

    async def scenario() -> health.Result:
        gone = asyncio.create_task(health.check())
        stays = asyncio.create_task(health.check())
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        return await stays

    code, body = asyncio.run(scenario())
    assert code == 200 and body["checks"]["database"]["status"] == "UP"


def test_a_failed_dependency_says_down_and_nothing_else(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    failure = ConnectionRefusedError("connect to db.internal.example:5432 refused")
    probes(monkeypatch, _database=down(failure), _queue=up(pending_jobs=3))
    with caplog.at_level(logging.WARNING, logger="shared.health"):
        code, body = asyncio.run(health.check())
    assert code == 503 and body["status"] == "DOWN"
    assert body["checks"]["database"]["status"] == "DOWN"
    assert set(body["checks"]["database"]) == {"status", "responseTime"}
    assert body["checks"]["processing_queue"]["pending_jobs"] == 3
    text = json.dumps(body)
    assert "ConnectionRefusedError" not in text and "db.internal" not in text
    assert "ConnectionRefusedError" in caplog.text and "db.internal" in caplog.text


def test_the_real_probes_tell_no_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stores' own probe results (container, bucket, dates) and the CDN's host name
    stay inside the service."""

    class Store:
        async def probe(self) -> dict[str, object]:
            return {"container": "secret-container", "bucket": "secret-bucket"}

    monkeypatch.setattr(health, "primary_store", Store)
    monkeypatch.setattr(health, "backup_store", Store)
    monkeypatch.setattr(health, "get_settings", lambda: Settings(
        AZURE_CDN_ENDPOINT="https://internal-cdn.example.net"))
    assert asyncio.run(health._azure_blob()) == {}
    assert asyncio.run(health._aws_s3()) == {}
    assert asyncio.run(health._cdn()) == {"provider": "azure_front_door"}
