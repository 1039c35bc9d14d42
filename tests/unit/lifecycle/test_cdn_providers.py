"""The CDN providers' own logic without their services: Cloudflare's requests and answers
(an httpx transport answering as Cloudflare documents it), Front Door's ids and log query,
Varnish's request log, client countries to regions, and the edge's URL shapes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.cdn import CdnError, parse_edge_path, providers_for
from shared.cdn.cloudflare import CloudflareEdge
from shared.cdn.frontdoor import FrontDoorEdge, stats_query
from shared.cdn.geo import region_of
from shared.cdn.varnish import VarnishEdge
from shared.settings import Settings

pytestmark = pytest.mark.anyio
FILE = str(uuid.uuid4())
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def cloudflare(handler) -> tuple[CloudflareEdge, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return CloudflareEdge("zone-1", "token-1", transport=httpx.MockTransport(record)), seen


async def test_cloudflare_purges_by_url_in_batches_of_thirty() -> None:
    edge, seen = cloudflare(lambda _: httpx.Response(200, json={"success": True,
                                                               "errors": []}))
    urls = [f"https://cdn.example/files/{uuid.uuid4()}" for _ in range(31)]
    assert await edge.purge([*urls, urls[0]]) == 31
    assert [r.url.path for r in seen] == ["/client/v4/zones/zone-1/purge_cache"] * 2
    assert seen[0].headers["authorization"] == "Bearer token-1"
    assert sorted(json.loads(seen[0].content)["files"] + json.loads(seen[1].content)["files"]) \
        == sorted(urls)


async def test_cloudflare_refusals_are_cdn_errors() -> None:
    edge, _ = cloudflare(lambda _: httpx.Response(
        403, json={"success": False, "errors": [{"code": 10000, "message": "auth"}]}))
    with pytest.raises(CdnError, match="403"):
        await edge.purge(["https://cdn.example/files/x"])
    with pytest.raises(CdnError):
        await edge.probe()

    def down(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route")

    edge, _ = cloudflare(down)
    with pytest.raises(CdnError, match="unreachable"):
        await edge.stats(NOW - timedelta(days=1), NOW)


async def test_cloudflare_analytics_by_path_and_country() -> None:
    groups = [
        {"count": 5, "sum": {"edgeResponseBytes": 500},
         "dimensions": {"clientRequestPath": f"/files/{FILE}", "clientCountryName": "FR",
                        "cacheStatus": "hit"}},
        {"count": 2, "sum": {"edgeResponseBytes": 200},
         "dimensions": {"clientRequestPath": f"/files/{FILE}", "clientCountryName": "FR",
                        "cacheStatus": "miss"}},
    ]
    edge, seen = cloudflare(lambda _: httpx.Response(200, json={
        "data": {"viewer": {"zones": [{"httpRequestsAdaptiveGroups": groups}]}},
        "errors": None}))
    rows = await edge.stats(NOW - timedelta(days=1), NOW, [f"/files/{FILE}"])
    assert [(r.path, r.country, r.requests, r.hits, r.bytes) for r in rows] == [
        (f"/files/{FILE}", "FR", 7, 5, 700)]
    variables = json.loads(seen[0].content)["variables"]
    assert variables["zone"] == "zone-1"
    assert variables["filter"]["clientRequestPath_in"] == [f"/files/{FILE}"]


def test_front_door_profile_ids_and_log_query() -> None:
    edge = FrontDoorEdge("/subscriptions/s-1/resourceGroups/rg-1/providers/Microsoft.Cdn/"
                         "profiles/afd-1", "files-1")
    assert (edge.subscription, edge.resource_group, edge.profile) == ("s-1", "rg-1", "afd-1")
    with pytest.raises(ValueError):
        FrontDoorEdge("/subscriptions/s-1", "files-1")
    query = stats_query([f"/files/{FILE}", "/files/it's"])
    assert "FrontDoorAccessLog" in query and f"'/files/{FILE}'" in query
    assert "'/files/it\\'s'" in query  # quoted: no path escapes the string
    assert "where path in" not in stats_query(None)


async def test_varnish_counts_its_request_log(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    t = NOW.timestamp()
    lines = [
        {"t": t, "m": "GET", "p": f"/files/{FILE}", "s": 200, "b": 100, "h": "miss"},
        {"t": t + 1, "m": "GET", "p": f"/files/{FILE}", "s": 200, "b": 100, "h": "hit"},
        {"t": t + 2, "m": "HEAD", "p": f"/thumbnails/{FILE}", "s": 200, "b": 0, "h": "hit"},
        {"t": t + 3, "m": "PURGE", "p": f"/files/{FILE}", "s": 200, "b": 0, "h": "miss"},
        {"t": t + 4, "m": "GET", "p": "/.edge/health", "s": 200, "b": 2, "h": "miss"},
        {"t": t - 90000, "m": "GET", "p": f"/files/{FILE}", "s": 200, "b": 100, "h": "hit"},
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"p": "/files/"broken\n')
    edge = VarnishEdge("http://127.0.0.1:1", str(log))
    rows = {r.path: r for r in await edge.stats(NOW - timedelta(hours=1), NOW + timedelta(1))}
    assert (rows[f"/files/{FILE}"].requests, rows[f"/files/{FILE}"].hits,
            rows[f"/files/{FILE}"].bytes) == (2, 1, 200)
    assert rows[f"/thumbnails/{FILE}"].hits == 1 and len(rows) == 2
    assert {r.country for r in rows.values()} == {"unknown"}
    only = await edge.stats(NOW - timedelta(hours=1), NOW + timedelta(1),
                            [f"/thumbnails/{FILE}"])
    assert [r.path for r in only] == [f"/thumbnails/{FILE}"]
    assert await VarnishEdge("http://x", str(tmp_path / "none")).stats(NOW, NOW) == []


async def test_varnish_unreachable_is_a_cdn_error() -> None:
    with pytest.raises(CdnError):
        await VarnishEdge("http://127.0.0.1:1", "").purge([f"http://cdn/files/{FILE}"])


def test_regions_of_client_countries() -> None:
    assert [region_of(c) for c in ("FR", "us", "Japan", "BR", "XX", "", "unknown")] == [
        "europe", "north_america", "asia", "south_america", "unknown", "unknown", "unknown"]


def test_edge_paths() -> None:
    assert parse_edge_path(f"/thumbnails/{FILE}") == ("thumbnails", FILE)
    for path in (f"/other/{FILE}", "/files/not-a-uuid", f"/files/{FILE}/x", f"files/{FILE}"):
        assert parse_edge_path(path) is None


def test_providers_come_from_the_settings(clean_env: pytest.MonkeyPatch) -> None:
    assert providers_for(Settings.model_validate({})) == ()
    names = [p.name for p in providers_for(Settings.model_validate({
        "AZURE_FRONT_DOOR_PROFILE_ID": "/subscriptions/s/resourceGroups/r/providers/"
                                       "Microsoft.Cdn/profiles/p",
        "AZURE_FRONT_DOOR_ENDPOINT_NAME": "e", "CLOUDFLARE_ZONE_ID": "z",
        "CLOUDFLARE_API_TOKEN": "t", "VARNISH_URL": "http://127.0.0.1:6081"}))]
    assert names == ["azure_cdn", "cloudflare", "varnish"]
