"""tus 1.0 through the devhost: tuspy unmodified, every extension announced, and what tusd
does at the edges (offsets, checksums, termination, locks, bodies cut short)."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from tusclient import client as tus_client

from tests.integration.helpers import assert_error, png
from tests.integration.tus_helpers import (
    TUS,
    RawPatch,
    V,
    create,
    location,
    offset,
    patch,
    wait_until,
)

KiB = 1024


def tuspy_upload(base_url: str, headers: dict[str, str], data: bytes, *, chunk_size: int,
                 **options) -> str:
    client = tus_client.TusClient(f"{base_url}{TUS}", headers=headers)
    uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=chunk_size,
                               metadata={"filename": "clip.png", "filetype": "image/png",
                                         "project_id": "proj_t", "tags": "a,b",
                                         "description": "tus", "is_public": "false"},
                               **options)
    uploader.upload()
    return uploader.url


def holds_lock(stores, path: str) -> bool:
    """Whether some connection holds the upload's lock (PostgreSQL's own view)."""
    name = f"upload-session:{path.rsplit('/', 1)[1]}"
    return stores.sql(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
        (name,))[0]["n"] > 0


def file_of(api, headers, url: str) -> dict:
    response = api.head(url, headers={**headers, **V})
    assert response.status_code == 200
    file_id = response.headers["x-file-id"]
    return api.get(f"/api/v1/storage/files/{file_id}", headers=headers).json()["file"]


@pytest.mark.parametrize("chunk_size", [100_000, 10**9])
def test_tuspy_uploads_a_file_like_any_other(api, base_url, auth_headers, user, stores,
                                             chunk_size):
    headers = auth_headers(user)
    data = png(900 * KiB + 7)
    url = tuspy_upload(base_url, headers, data, chunk_size=chunk_size)
    record = file_of(api, headers, url)
    assert record["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["checksum_md5"] == hashlib.md5(data).hexdigest()
    assert (record["original_name"], record["project_id"]) == ("clip.png", "proj_t")
    assert record["tags"] == ["a", "b"] and record["description"] == "tus"
    assert stores.blob_bytes(stores.path_of(record["id"])) == data


def test_tuspy_with_upload_checksum(api, base_url, auth_headers, user):
    headers = auth_headers(user)
    data = png(300 * KiB)
    url = tuspy_upload(base_url, headers, data, chunk_size=128 * KiB, upload_checksum=True)
    assert file_of(api, headers, url)["checksum_sha256"] == hashlib.sha256(data).hexdigest()


def test_options_announces_the_protocol_and_cors(api):
    response = api.options(TUS, headers={"Origin": "http://app.example",
                                          "Access-Control-Request-Method": "PATCH"})
    assert response.status_code == 204
    h = response.headers
    assert h["tus-version"] == "1.0.0" and h["tus-resumable"] == "1.0.0"
    assert set(h["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "termination", "checksum", "expiration"}
    assert set(h["tus-checksum-algorithm"].split(",")) == {"md5", "sha1", "sha256"}
    assert int(h["tus-max-size"]) == 6 * 1024 * 1024
    assert h["access-control-allow-origin"] == "*"
    assert "Upload-Offset" in h["access-control-allow-headers"]
    for name in ("Location", "Upload-Offset", "Upload-Length", "Tus-Resumable"):
        assert name in h["access-control-expose-headers"]


def test_head_patch_offsets_and_expiry(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(200 * KiB)
    created = create(api, headers, len(data), filename="x.png", filetype="image/png")
    assert created.headers["upload-expires"].endswith("GMT")
    path = location(created)
    assert offset(api, headers, path) == 0
    first = patch(api, headers, path, 0, data[:70_000])
    assert first.status_code == 204 and first.headers["upload-offset"] == "70000"
    assert offset(api, headers, path) == 70_000
    stale = patch(api, headers, path, 0, data[:10])
    assert_error(stale, 409, "UPLOAD_OFFSET_MISMATCH")
    assert stale.headers["upload-offset"] == "70000"
    assert_error(api.patch(path, content=b"x", headers={
        **headers, **V, "Upload-Offset": "70000", "Content-Type": "text/plain"}),
        415, "INVALID_FILE_TYPE")
    assert_error(patch(api, headers, path, 70_000, b"x", **{"Tus-Resumable": "0.2.2"}),
                 412, "PRECONDITION_FAILED")
    assert_error(patch(api, headers, path, 70_000, bytes(len(data))), 413, "FILE_TOO_LARGE")
    last = patch(api, headers, path, 70_000, data[70_000:])
    assert last.status_code == 204 and last.headers["upload-offset"] == str(len(data))
    assert "upload-expires" not in last.headers
    record = api.get(f"/api/v1/storage/files/{last.headers['x-file-id']}", headers=headers)
    assert record.json()["file"]["checksum_sha256"] == hashlib.sha256(data).hexdigest()


def test_creation_with_upload_and_checksum_mismatch(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(150 * KiB)
    created = api.post(TUS, content=data[:100_000], headers={
        **headers, **V, "Upload-Length": str(len(data)),
        "Content-Type": "application/offset+octet-stream"})
    path = location(created)
    assert created.headers["upload-offset"] == "100000"
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    bad = patch(api, headers, path, 100_000, data[100_000:],
                **{"Upload-Checksum": f"sha1 {wrong}"})
    assert bad.status_code == 460 and bad.json()["error"]["code"] == "CHECKSUM_MISMATCH"
    assert offset(api, headers, path) == 100_000
    good = base64.b64encode(hashlib.sha256(data[100_000:]).digest()).decode()
    done = patch(api, headers, path, 100_000, data[100_000:],
                 **{"Upload-Checksum": f"sha256 {good}"})
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(data))


def test_a_refused_creation_with_upload_ends_the_upload(api, auth_headers, user, stores):
    headers = auth_headers(user)
    data = png(100 * KiB)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    refused = api.post(TUS, content=data, headers={
        **headers, **V, "Upload-Length": str(len(data)), "Upload-Checksum": f"md5 {wrong}",
        "Content-Type": "application/offset+octet-stream"})
    assert refused.status_code == 460
    assert stores.leftovers(user).used_bytes == 0


def test_termination_releases_the_quota(api, auth_headers, user, stores):
    headers = auth_headers(user)
    path = location(create(api, headers, 300 * KiB))
    assert stores.leftovers(user).used_bytes == 300 * KiB
    assert patch(api, headers, path, 0, png(100 * KiB)).status_code == 204
    assert api.delete(path, headers={**headers, **V}).status_code == 204
    assert api.head(path, headers={**headers, **V}).status_code == 404
    assert_error(patch(api, headers, path, 100 * KiB, b"x"), 404, "NOT_FOUND")
    assert stores.leftovers(user).used_bytes == 0


def test_another_users_upload_is_404(api, auth_headers, user):
    path = location(create(api, auth_headers(user), 1000))
    stranger = auth_headers(f"{user}-x")
    assert api.head(path, headers={**stranger, **V}).status_code == 404
    assert_error(patch(api, stranger, path, 0, b"x"), 404, "NOT_FOUND")
    assert api.head(path, headers=V).status_code == 401


def test_an_interrupted_patch_keeps_what_arrived(api, base_url, auth_headers, user):
    headers = auth_headers(user)
    data = png(3 * 1024 * KiB)
    path = location(create(api, headers, len(data)))
    raw = RawPatch(base_url, headers, path, 0, len(data))
    sent = 2 * 1024 * KiB + 12_345
    raw.send(data[:sent])
    wait_until(lambda: api.head(path, headers={**headers, **V}).status_code == 423
               or offset(api, headers, path) > 0, what="the PATCH is being written")
    raw.drop()
    wait_until(lambda: offset(api, headers, path) == sent, what="the cut PATCH is recorded")
    done = patch(api, headers, path, sent, data[sent:])
    assert done.status_code == 204
    record = api.get(f"/api/v1/storage/files/{done.headers['x-file-id']}", headers=headers)
    assert record.json()["file"]["checksum_sha256"] == hashlib.sha256(data).hexdigest()


def test_one_writer_at_a_time(api, base_url, auth_headers, user, stores):
    headers = auth_headers(user)
    data = png(200 * KiB)
    path = location(create(api, headers, len(data)))
    raw = RawPatch(base_url, headers, path, 0, len(data))
    raw.send(data[:1000])
    wait_until(lambda: holds_lock(stores, path), what="the first PATCH holds the upload")
    second = patch(api, headers, path, 0, data)
    assert_error(second, 423, "UPLOAD_LOCKED")
    raw.send(data[1000:])
    assert b" 204 " in raw.answer().split(b"\r\n")[0] + b" "
    assert offset(api, headers, path) == len(data)
