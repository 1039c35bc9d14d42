"""The CDN through the session's real Varnish in front of the devhost: public files get CDN
URLs and are cached, private ones get none and are never cached, every change of a public
file's state purges its URLs (the edge stops serving the old bytes), a variant resolves
through the transformations, and purges can be asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from psycopg.types.json import Jsonb

from tests.integration.helpers import assert_error, png

FILES = "/api/v1/storage/files"
PURGE = "/api/v1/storage/cdn/purge"


@pytest.fixture
def public_file(upload, user):
    def make(content: bytes | None = None, **metadata) -> dict:
        response = upload(user, content or png(6000), mime="image/png",
                          metadata={"is_public": True, **metadata})
        assert response.status_code == 201, response.text
        return response.json()

    return make


def warm(edge: httpx.Client, path: str) -> bytes:
    """Fetch twice through the edge: a miss that fills its cache, then a hit."""
    first = edge.get(path)
    assert first.status_code == 200 and first.headers["x-cache"] == "MISS", first.text
    second = edge.get(path)
    assert second.status_code == 200 and second.headers["x-cache"] == "HIT"
    assert second.content == first.content
    return first.content


def purges_of(stores, file_id: str) -> list[dict]:
    return stores.sql(
        "SELECT r.id::text AS id, r.reason, r.status, r.urls, p.provider, p.status AS pstatus,"
        " p.urls_purged FROM cdn_purge_requests r JOIN cdn_purge_results p ON p.purge_id = r.id"
        " WHERE %s::uuid = ANY(r.file_ids) ORDER BY r.created_at", (file_id,))


def test_public_files_get_cdn_urls_and_the_edge_caches_them(api, auth_headers, public_file,
                                                           edge, stack):
    created = public_file()
    file_id = created["file"]["id"]
    assert created["urls"]["cdn"] == f"{stack.varnish.url}/files/{file_id}"
    assert created["urls"]["thumbnail"] is None  # no thumbnail exists yet
    content = warm(edge, f"/files/{file_id}")
    # The origin lets shared caches keep it CDN_CACHE_TTL (every change purges it).
    origin = api.get(f"/files/{file_id}")
    assert origin.status_code == 200 and origin.content == content
    assert "s-maxage=86400" in origin.headers["cache-control"]
    assert origin.headers["cache-control"].startswith("public")
    ranged = edge.get(f"/files/{file_id}", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == content[10:20]
    assert ranged.headers["x-cache"] == "HIT"
    assert edge.get("/api/v1/storage/files").status_code == 404  # only the public routes


def test_private_files_get_no_cdn_url_and_are_never_cached(api, auth_headers, upload, user,
                                                           edge):
    created = upload(user, png(), mime="image/png").json()
    assert created["urls"]["cdn"] is None and created["urls"]["download"]
    file_id = created["file"]["id"]
    streamed = api.get(f"/api/v1/storage/stream/{file_id}", headers=auth_headers(user))
    assert streamed.headers["cache-control"].startswith("private")
    for _ in range(2):  # refused each time, from the origin: never a cached answer
        refused = edge.get(f"/files/{file_id}", headers=auth_headers(user))
        assert refused.status_code in {401, 404} and refused.headers["x-cache"] == "MISS"
    listed = api.get(FILES, headers=auth_headers(user)).json()["files"][0]
    assert listed["urls"]["cdn"] is None


def _make_private(api, h, file_id, **_):
    response = api.put(f"{FILES}/{file_id}", headers=h, json={"is_public": False})
    assert response.status_code == 200, response.text


def _trash(api, h, file_id, **_):
    assert api.delete(f"{FILES}/{file_id}", headers=h).status_code == 200


def _delete(api, h, file_id, **_):
    response = api.delete(f"{FILES}/{file_id}", headers=h, params={"permanent": "true"})
    assert response.status_code == 200


def _expire(api, h, file_id, run_maintenance, **_):
    run_maintenance(clock=lambda: datetime.now(UTC) + timedelta(hours=2))


@pytest.mark.parametrize("change", [_make_private, _trash, _delete, _expire],
                         ids=["made-private", "trashed", "deleted", "expired"])
def test_every_change_of_state_purges_the_edge(api, auth_headers, public_file, edge, user,
                                                stores, wait_for, run_maintenance, change):
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = public_file(expires_at=soon) if change is _expire else public_file()
    file_id = created["file"]["id"]
    warm(edge, f"/files/{file_id}")
    change(api, auth_headers(user), file_id, run_maintenance=run_maintenance)
    wait_for(lambda: edge.get(f"/files/{file_id}").status_code != 200,
             what="the edge no longer serving the old bytes")
    # The purge is recorded (kept when the file is gone: its URLs are in it) and done.
    wait_for(lambda: purges_of(stores, file_id)[-1]["status"] == "completed")
    purged = purges_of(stores, file_id)[-1]
    assert purged["reason"] == {_make_private: "updated", _trash: "trashed",
                                _delete: "deleted", _expire: "expired"}[change]
    assert purged["pstatus"] == "completed" and purged["urls_purged"] == 3
    assert created["urls"]["cdn"] in purged["urls"]


def test_a_variant_resolves_through_its_transformation_and_is_purged_with_it(
        api, auth_headers, public_file, upload, user, edge, stores, wait_for):
    source = public_file()["file"]
    thumb_bytes = png(700)
    thumbnail = upload(user, thumb_bytes, mime="image/png").json()["file"]
    # What the processing pipeline records for a thumbnail it made.
    stores.sql("INSERT INTO file_transformations (source_file_id, target_file_id,"
               " transformation_type, transformation_params, status, completed_at)"
               " VALUES (%s, %s, 'thumbnail_generation', %s, 'completed', now())",
               (source["id"], thumbnail["id"], Jsonb({"width": 64})))
    h = auth_headers(user)
    details = api.get(f"{FILES}/{source['id']}", headers=h).json()
    assert details["urls"]["thumbnail"].endswith(f"/thumbnails/{source['id']}")
    assert details["urls"]["preview"] is None
    assert warm(edge, f"/thumbnails/{source['id']}") == thumb_bytes
    owner_view = api.get(f"/api/v1/storage/stream/{source['id']}",
                         params={"variant": "thumbnail"}, headers=h)
    assert owner_view.status_code == 200 and owner_view.content == thumb_bytes
    assert api.get(f"/previews/{source['id']}").status_code == 404  # none made
    # The thumbnail goes to the trash: its source's thumbnail URL is purged with it.
    assert api.delete(f"{FILES}/{thumbnail['id']}", headers=h).status_code == 200
    wait_for(lambda: edge.get(f"/thumbnails/{source['id']}").status_code == 404,
             what="the edge dropping the trashed thumbnail")
    assert edge.get(f"/files/{source['id']}").status_code == 200  # the source stays


def test_purge_on_request_by_the_owner(api, auth_headers, public_file, edge, user, stores,
                                       wait_for):
    file_id = public_file()["file"]["id"]
    warm(edge, f"/files/{file_id}")
    h = auth_headers(user)
    response = api.post(PURGE, headers=h, json={"file_ids": [file_id], "purge_type": "all"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["purge_request"]["files_count"] == 1
    assert body["purge_request"]["status"] in {"queued", "processing", "completed"}
    assert body["purge_request"]["estimated_completion"]
    assert [p["provider"] for p in body["cdn_providers"]] == ["varnish"]
    purge_id = body["purge_request"]["id"]

    def done() -> bool:
        status = api.get(f"{PURGE}/{purge_id}", headers=h).json()
        return status["purge_request"]["status"] == "completed"

    wait_for(done, what="the purge carried out")
    status = api.get(f"{PURGE}/{purge_id}", headers=h).json()
    assert status["cdn_providers"] == [{"provider": "varnish", "status": "completed",
                                        "urls_purged": 3, "error": None}]
    assert edge.get(f"/files/{file_id}").headers["x-cache"] == "MISS"  # fetched anew
    cached = stores.sql("SELECT cache_key, purged_at FROM cdn_cache WHERE file_id = %s"
                        " ORDER BY cache_key", (file_id,))
    assert [c["cache_key"] for c in cached] == [
        f"/files/{file_id}", f"/previews/{file_id}", f"/thumbnails/{file_id}"]
    assert all(c["purged_at"] for c in cached)
    thumbs_only = api.post(PURGE, headers=h, json={"file_ids": [file_id],
                                                   "purge_type": "thumbnails"})
    assert thumbs_only.status_code == 202


def test_purge_refusals(api, auth_headers, public_file, user, stores):
    file_id = public_file()["file"]["id"]
    before = stores.sql("SELECT count(*) AS n FROM cdn_purge_requests")[0]["n"]
    stranger = auth_headers(f"{user}-stranger")
    assert_error(api.post(PURGE, headers=stranger, json={"file_ids": [file_id]}), 404,
                 "NOT_FOUND")
    assert_error(api.post(PURGE, json={"file_ids": [file_id]}), 401, "UNAUTHORIZED")
    h = auth_headers(user)
    for bad in ({"file_ids": []}, {"file_ids": [file_id], "purge_type": "everything"},
                {"file_ids": [file_id] * 101}, {"file_ids": [file_id], "extra": 1}):
        assert api.post(PURGE, headers=h, json=bad).status_code == 422
    assert_error(api.post(PURGE, headers=h, json={"file_ids": ["not-an-id"]}), 404,
                 "NOT_FOUND")
    assert stores.sql("SELECT count(*) AS n FROM cdn_purge_requests")[0]["n"] == before
    admin = api.post(PURGE, headers=auth_headers("ops", "admin"), json={"file_ids": [file_id]})
    assert admin.status_code == 202
    purge_id = admin.json()["purge_request"]["id"]
    assert_error(api.get(f"{PURGE}/{purge_id}", headers=h), 404, "NOT_FOUND")  # not theirs
