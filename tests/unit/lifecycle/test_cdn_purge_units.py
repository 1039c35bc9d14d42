"""Purges, statistics and the CDN's health on in-memory parts, with providers that record
what they are asked (and one that fails): one state everywhere, CDN_SYNC_FAILED per provider,
nothing lost when a message is, statistics per owner."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import pytest

from shared import health, lifecycle
from shared.auth import Principal, Role
from shared.cdn import CdnError, EdgeRow
from shared.context import AppContext
from shared.distribution import purge, stats
from shared.distribution.models import PurgeBody, StatsQuery
from shared.errors import ApiError, NotFound
from shared.files import service
from shared.files.edge import CDN_PURGE_QUEUE
from shared.files.models import FileUpdate
from shared.files.upload import upload_file
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.fakes.queues import MemoryQueues
from tests.unit.files.bodies import PNG, chunks, multipart, request

pytestmark = pytest.mark.anyio
ALICE = Principal("alice", Role.USER)
BOB = Principal("bob", Role.USER)
ADMIN = Principal("ops", Role.ADMIN)
CDN = "https://cdn.example"


class Provider:
    def __init__(self, name: str = "varnish", *, fails: bool = False,
                 rows: Sequence[EdgeRow] = ()) -> None:
        self.name = name
        self.fails = fails
        self.rows = list(rows)
        self.purged: list[list[str]] = []

    async def purge(self, urls: Sequence[str]) -> int:
        if self.fails:
            raise CdnError("edge unreachable")
        self.purged.append(sorted(urls))
        return len(urls)

    async def stats(self, since: datetime, until: datetime,
                    paths: Sequence[str] | None = None) -> list[EdgeRow]:
        if self.fails:
            raise CdnError("logs unavailable")
        return [r for r in self.rows if paths is None or r.path in paths]

    async def probe(self) -> dict[str, Any]:
        if self.fails:
            raise CdnError("down")
        return {"hit_ratio": 0.945, "cache_size_bytes": 3 * 1024**3}


def with_cdn(*providers: Provider) -> AppContext:
    return dataclasses.replace(fake_context(cdn_endpoint=CDN), cdn=tuple(providers))


async def stored(ctx: AppContext, user: str = "alice", public: bool = True) -> str:
    body = multipart(PNG + os.urandom(2000), metadata={"is_public": public})
    return (await upload_file(ctx, request(length=len(body), user=user), chunks(body))).file.id


async def work_queue(ctx: AppContext) -> list[str | None]:
    """What the cdn-purge worker does with each message waiting."""
    waiting = cast(MemoryQueues, ctx.queues).messages[CDN_PURGE_QUEUE]
    done = [await purge.carry_out(ctx, json.loads(m)["purge_id"]) for m in waiting]
    waiting.clear()
    return done


def urls(file_id: str) -> list[str]:
    return sorted(f"{CDN}/{kind}/{file_id}" for kind in ("files", "thumbnails", "previews"))


@pytest.mark.parametrize("change", ["private", "trash", "delete"])
async def test_a_public_file_that_changes_state_is_purged(change: str) -> None:
    edge = Provider()
    ctx = with_cdn(edge)
    file_id = await stored(ctx)
    if change == "private":
        await service.update_file(ctx, ALICE, file_id, FileUpdate(is_public=False))
    else:
        await service.delete_file(ctx, ALICE, file_id, permanent=change == "delete")
    assert await work_queue(ctx) == ["completed"]
    assert edge.purged == [urls(file_id)]


async def test_private_files_and_untouched_ones_purge_nothing() -> None:
    edge = Provider()
    ctx = with_cdn(edge)
    private = await stored(ctx, public=False)
    await service.delete_file(ctx, ALICE, private, permanent=False)
    public = await stored(ctx)
    await service.update_file(ctx, ALICE, public, FileUpdate())
    assert await work_queue(ctx) == [] and edge.purged == []


async def test_an_expired_public_file_is_purged_by_the_timer() -> None:
    edge = Provider()
    ctx = with_cdn(edge)
    body = multipart(PNG + os.urandom(100), metadata={
        "is_public": True, "expires_at": "2026-01-15T13:00:00+00:00"})
    file_id = (await upload_file(ctx, request(length=len(body)), chunks(body))).file.id
    cast(FakeClock, ctx.clock).advance(hours=2)
    await lifecycle.run_maintenance(ctx)
    await work_queue(ctx)
    assert edge.purged == [urls(file_id)]


async def test_a_variant_that_goes_purges_its_sources_url() -> None:
    edge = Provider()
    ctx = with_cdn(edge)
    source, thumb = await stored(ctx), await stored(ctx, public=False)
    cast(FakeDatabase, ctx.db).tables.transformations.append({
        "source_file_id": source, "target_file_id": thumb,
        "transformation_type": "thumbnail_generation", "transformation_params": {},
        "status": "completed", "completed_at": ctx.clock()})
    await service.delete_file(ctx, ALICE, thumb, permanent=False)
    await work_queue(ctx)
    assert edge.purged == [[f"{CDN}/thumbnails/{source}"]]


async def test_a_failing_provider_is_reported_and_retried_the_others_purge() -> None:
    good, bad = Provider("varnish"), Provider("cloudflare", fails=True)
    ctx = with_cdn(good, bad)
    file_id = await stored(ctx)
    asked = await purge.request(ctx, ALICE, PurgeBody(file_ids=[file_id], purge_type="files"))
    assert [p.status for p in asked.cdn_providers] == ["queued", "queued"]
    assert await work_queue(ctx) == ["failed"]
    status = await purge.status(ctx, ALICE, asked.purge_request.id)
    by_name = {p.provider: p for p in status.cdn_providers}
    assert by_name["cloudflare"].error and by_name["cloudflare"].error.code == "CDN_SYNC_FAILED"
    assert (by_name["varnish"].status, by_name["varnish"].urls_purged) == ("completed", 1)
    bad.fails = False
    cast(FakeClock, ctx.clock).advance(minutes=2)
    assert await purge.retry_due_purges(ctx) == 1
    assert await work_queue(ctx) == ["completed"]
    assert good.purged == [[f"{CDN}/files/{file_id}"]]  # not purged twice: it was done
    assert bad.purged == [[f"{CDN}/files/{file_id}"]]
    assert await purge.carry_out(ctx, asked.purge_request.id) == "completed"  # redelivered


async def test_purges_are_for_owners_and_admins() -> None:
    ctx = with_cdn(Provider())
    file_id = await stored(ctx)
    with pytest.raises(NotFound):
        await purge.request(ctx, BOB, PurgeBody(file_ids=[file_id]))
    asked = await purge.request(ctx, ADMIN, PurgeBody(file_ids=[file_id, file_id]))
    assert asked.purge_request.files_count == 1
    with pytest.raises(NotFound):
        await purge.status(ctx, ALICE, asked.purge_request.id)
    with pytest.raises(NotFound):
        await purge.status(ctx, ADMIN, "not-an-id")


async def test_a_lost_message_is_sent_again_by_the_timer() -> None:
    edge = Provider()
    ctx = with_cdn(edge)
    file_id = await stored(ctx)
    await purge.request(ctx, ALICE, PurgeBody(file_ids=[file_id]))
    cast(MemoryQueues, ctx.queues).messages[CDN_PURGE_QUEUE].clear()  # lost
    assert await purge.retry_due_purges(ctx) == 0  # not a minute old yet
    cast(FakeClock, ctx.clock).advance(minutes=2)
    assert await purge.retry_due_purges(ctx) == 1
    assert await work_queue(ctx) == ["completed"]


async def test_stats_per_owner_and_provider() -> None:
    ctx = with_cdn()
    mine, theirs = await stored(ctx), await stored(ctx, user="bob")
    rows = [EdgeRow(f"/files/{mine}", "FR", 10, 9, 1000),
            EdgeRow(f"/thumbnails/{mine}", "US", 10, 10, 100),
            EdgeRow(f"/files/{theirs}", "JP", 5, 0, 50), EdgeRow("/other", "FR", 1, 1, 1)]
    ctx = dataclasses.replace(ctx, cdn=(Provider(rows=rows), Provider("cloudflare",
                                                                      fails=True)))
    own = await stats.cdn_stats(ctx, ALICE, StatsQuery(period="7d"))
    assert (own.stats.total_requests, own.stats.cache_hits, own.stats.cache_misses) == \
        (20, 19, 1)
    assert own.stats.hit_ratio == 95.0 and own.stats.bandwidth_bytes == 1100
    assert own.stats.geographic_distribution == {"europe": 50.0, "north_america": 50.0}
    assert [(f.file_id, f.requests) for f in own.stats.top_files] == [(mine, 20)]
    assert [p.status for p in own.cdn_providers] == ["ok", "failed"]
    everything = await stats.cdn_stats(ctx, ADMIN, StatsQuery())
    assert everything.stats.total_requests == 25
    one = await stats.cdn_stats(ctx, ADMIN, StatsQuery(file_id=theirs))
    assert one.stats.total_requests == 5
    with pytest.raises(NotFound):
        await stats.cdn_stats(ctx, ALICE, StatsQuery(file_id=theirs))
    down = dataclasses.replace(ctx, cdn=(Provider(fails=True),))
    with pytest.raises(ApiError) as raised:
        await stats.cdn_stats(down, ALICE, StatsQuery())
    assert (raised.value.status, raised.value.code) == (502, "CDN_SYNC_FAILED")


async def test_health_reports_the_cdn() -> None:
    up = await health.cdn_check(with_cdn(Provider()))
    assert up == {"hit_ratio": "94.5%", "cache_size": "3.0GB",
                  "providers": [{"provider": "varnish", "status": "UP"}]}
    code, body = await health.check(with_cdn(Provider(), Provider("cloudflare", fails=True)))
    cdn = body["checks"]["cdn"]
    assert cdn["status"] == "DOWN" and cdn["error"] == "CDN_SYNC_FAILED"
    assert cdn["providers"][1] == {"provider": "cloudflare", "status": "DOWN",
                                   "error": "CDN_SYNC_FAILED"}
    assert code == 200 and body["status"] == "DEGRADED"
    assert await health.cdn_check(fake_context()) == {"providers": []}
