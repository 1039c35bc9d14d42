"""CDN statistics counted from Varnish's own request log, /health's CDN check, and a
provider that is down: CDN_SYNC_FAILED in the purge's status and in /health (DEGRADED), and
the purge carried out by the timer once it is back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.helpers import assert_error, health_when, png

STATS = "/api/v1/storage/cdn/stats"
PURGE = "/api/v1/storage/cdn/purge"


def test_stats_count_the_requests_made_through_the_edge(api, auth_headers, upload, user,
                                                        edge, wait_for):
    size = 7000
    file_id = upload(user, png(size), mime="image/png",
                     metadata={"is_public": True}).json()["file"]["id"]
    statuses = [edge.get(f"/files/{file_id}").headers["x-cache"] for _ in range(3)]
    assert statuses == ["MISS", "HIT", "HIT"]
    h = auth_headers(user)

    def stats(**params) -> dict:
        response = api.get(STATS, headers=h, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    wait_for(lambda: stats(file_id=file_id)["stats"]["total_requests"] == 3,
             what="varnishncsa logging the requests")
    body = stats(file_id=file_id, period="24h")
    assert body["period"] == "24h" and body["cdn_providers"] == [
        {"provider": "varnish", "status": "ok", "error": None}]
    figures = body["stats"]
    assert (figures["cache_hits"], figures["cache_misses"]) == (2, 1)
    assert figures["hit_ratio"] == 66.7
    assert figures["bandwidth_bytes"] == 3 * size
    assert figures["bandwidth_gb"] == round(3 * size / 1024**3, 6)
    assert figures["top_files"] == [{"file_id": file_id, "requests": 3,
                                     "bandwidth_gb": figures["bandwidth_gb"]}]
    assert figures["geographic_distribution"] == {"unknown": 100.0}
    # The owner's own statistics include it; another user's do not; an admin's do.
    assert file_id in [f["file_id"] for f in stats(period="7d")["stats"]["top_files"]]
    stranger = api.get(STATS, headers=auth_headers(f"{user}-other")).json()["stats"]
    assert file_id not in [f["file_id"] for f in stranger["top_files"]]
    admin = api.get(STATS, headers=auth_headers("ops", "admin"),
                    params={"file_id": file_id, "period": "30d"})
    assert admin.json()["stats"]["total_requests"] == 3
    assert_error(api.get(STATS, headers=auth_headers(f"{user}-other"),
                         params={"file_id": file_id}), 404, "NOT_FOUND")
    assert_error(api.get(STATS, headers=h, params={"period": "1y"}), 400, "VALIDATION_ERROR")
    assert_error(api.get(STATS), 401, "UNAUTHORIZED")


def test_health_reports_the_edge_hit_ratio_and_cache_size(api, upload, user, edge, wait_for):
    file_id = upload(user, png(), mime="image/png",
                     metadata={"is_public": True}).json()["file"]["id"]
    edge.get(f"/files/{file_id}")
    edge.get(f"/files/{file_id}")
    cdn = health_when(api, wait_for, lambda body: "hit_ratio" in body["checks"]["cdn"],
                      "a hit ratio in /health")["checks"]["cdn"]
    assert cdn["status"] == "UP" and cdn["providers"] == [{"provider": "varnish",
                                                          "status": "UP"}]
    assert cdn["hit_ratio"].endswith("%") and 0 < float(cdn["hit_ratio"][:-1]) <= 100
    assert cdn["cache_size"][0].isdigit()


def test_a_provider_down_fails_its_purge_and_degrades_health_until_it_is_back(
        api, auth_headers, upload, user, stack, wait_for, run_maintenance):
    file_id = upload(user, png(), mime="image/png",
                     metadata={"is_public": True}).json()["file"]["id"]
    h = auth_headers(user)
    stack.varnish.stop()
    try:
        health = health_when(api, wait_for, lambda body: body["status"] == "DEGRADED",
                             "health DEGRADED")
        cdn = health["checks"]["cdn"]
        assert cdn["status"] == "DOWN" and cdn["error"] == "CDN_SYNC_FAILED"
        purge_id = api.post(PURGE, headers=h, json={"file_ids": [file_id]}).json()[
            "purge_request"]["id"]

        def status() -> dict:
            return api.get(f"{PURGE}/{purge_id}", headers=h).json()

        wait_for(lambda: status()["purge_request"]["status"] == "failed",
                 what="the purge failing at the provider")
        [varnish] = status()["cdn_providers"]
        assert varnish["status"] == "failed" and varnish["error"]["code"] == "CDN_SYNC_FAILED"
        # Statistics come from the edge's request log, which outlives the edge itself.
        assert api.get(STATS, headers=h).status_code == 200
    finally:
        stack.varnish.start()
    health_when(api, wait_for, lambda body: body["checks"]["cdn"]["status"] == "UP",
                "the CDN UP again")
    # A minute later (the back-off), the timer queues it again, and it goes through.
    run_maintenance(clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    wait_for(lambda: status()["purge_request"]["status"] == "completed",
             what="the purge carried out once the provider is back")
    assert status()["cdn_providers"][0]["urls_purged"] == 3
