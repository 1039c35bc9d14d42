"""Revocation: a SAS lives at most 15 minutes; a file past its ``expires_at`` is gone for
every reader at once (before the timer deletes it); public answers stay in shared caches
only while they hold (a minute for the API, never past ``expires_at`` at the CDN)."""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC, datetime, timedelta

from tests.integration.helpers import assert_error, png

FILES = "/api/v1/storage/files"
DOWNLOAD = "/api/v1/storage/download"
STREAM = "/api/v1/storage/stream"


def _max_ages(cache_control: str) -> dict[str, int]:
    pairs = (part.strip().split("=", 1) for part in cache_control.split(",") if "=" in part)
    return {key: int(value) for key, value in pairs}


def test_a_sas_lives_at_most_15_minutes(api, auth_headers, upload, user, stack_env):
    assert int(stack_env["SIGNED_URL_EXPIRES"]) > 15 * 60  # the setting asks for more
    file_id = upload(user, png(), mime="image/png").json()["file"]["id"]
    response = api.get(f"{DOWNLOAD}/{file_id}", headers=auth_headers(user))
    assert response.status_code == 302, response.text
    query = urllib.parse.parse_qs(urllib.parse.urlparse(response.headers["Location"]).query)
    expiry = datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expiry - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)
    assert response.headers["Cache-Control"].startswith("private")
    assert _max_ages(response.headers["Cache-Control"])["max-age"] <= 15 * 60


def test_public_answers_stay_in_shared_caches_a_minute_at_most(api, upload, user):
    file_id = upload(user, png(), mime="image/png", metadata={"is_public": True}
                     ).json()["file"]["id"]
    for response in (api.get(f"{DOWNLOAD}/{file_id}"), api.get(f"{STREAM}/{file_id}")):
        assert response.status_code in (200, 302), response.text
        cache = response.headers["Cache-Control"]
        assert cache.startswith("public") and _max_ages(cache)["s-maxage"] <= 60


def test_an_expired_file_is_gone_for_every_reader(api, auth_headers, upload, user, stores):
    h = auth_headers(user)
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    record = upload(user, png(), mime="image/png",
                    metadata={"is_public": True, "expires_at": soon}).json()["file"]
    file_id = record["id"]
    kept = upload(user, png(), mime="image/png").json()["file"]["id"]
    assert api.get(f"{FILES}/{file_id}", headers=h).status_code == 200
    # An answer of a file that expires is never kept past that moment.
    cache = api.get(f"/files/{file_id}").headers["Cache-Control"]
    assert 3500 < _max_ages(cache)["s-maxage"] <= 3600 and "stale-while-revalidate=0" in cache

    stores.sql("UPDATE files SET expires_at = now() - interval '1 second' WHERE id = %s",
               (file_id,))  # expired, and the timer has not run yet
    for path in (f"{FILES}/{file_id}", f"{DOWNLOAD}/{file_id}", f"{STREAM}/{file_id}"):
        assert_error(api.get(path, headers=h), 404, "NOT_FOUND")
        assert_error(api.get(path, headers=auth_headers("root", "admin")), 404, "NOT_FOUND")
    assert api.head(f"{STREAM}/{file_id}", headers=h).status_code == 404
    for path in (f"/files/{file_id}", f"/thumbnails/{file_id}", f"{DOWNLOAD}/{file_id}"):
        assert api.get(path).status_code in (401, 404)
    listed = api.get(FILES, headers=h).json()
    assert [f["id"] for f in listed["files"]] == [kept]
    assert listed["pagination"]["total"] == 1
    assert stores.sql("SELECT 1 FROM files WHERE id = %s", (file_id,))  # the row is still there


def test_the_cdn_stops_serving_a_file_when_it_expires(upload, user, edge):
    soon = datetime.now(UTC) + timedelta(seconds=4)
    file_id = upload(user, png(), mime="image/png",
                     metadata={"is_public": True, "expires_at": soon.isoformat()}
                     ).json()["file"]["id"]
    first = edge.get(f"/files/{file_id}")
    assert first.status_code == 200, first.text
    assert _max_ages(first.headers["Cache-Control"])["s-maxage"] <= 4
    time.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 1.5)
    assert edge.get(f"/files/{file_id}").status_code == 404  # no purge needed, no grace
