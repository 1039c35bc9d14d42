"""POST /api/v1/storage/upload through the devhost, against Azurite, PostgreSQL and moto.

Every refused upload is checked to leave nothing behind: no blob, no row, no quota change.
The session's settings (tests/conftest.py) make the limits small: 3 MiB per file, 8 MiB of
quota for role user, 1 MiB blocks so that multi-block uploads are exercised.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.integration.helpers import EXE, Leftovers, assert_error, md5, pdf, png, text

MiB = 1024 * 1024


def test_upload_stores_the_bytes_and_answers_the_spec_shape(upload, user, stores):
    content = png(2 * MiB + 123)  # three 1 MiB blocks
    response = upload(user, content, filename="scan.png", mime="image/png", metadata={
        "project_id": "proj_123", "description": "Page scannée", "tags": ["scan", "page"],
        "is_public": False, "auto_transform": True,
    })
    assert response.status_code == 201, response.text
    body = response.json()
    record = body["file"]
    assert record["original_name"] == "scan.png"
    assert record["mime_type"] == "image/png" and record["file_type"] == "image"
    assert record["size_bytes"] == len(content)
    assert record["checksum_md5"] == md5(content)
    assert record["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert record["storage_provider"] == "azure_blob" and record["is_public"] is False
    assert record["project_id"] == "proj_123" and record["tags"] == ["scan", "page"]
    assert stores.path_of(record["id"]) == f"users/{user}/{record['id']}.png"
    assert body["upload"]["status"] == "completed" and body["upload"]["upload_time_ms"] >= 0
    assert body["urls"]["download"].endswith(f"/api/v1/storage/download/{record['id']}")
    assert stores.blob_bytes(stores.path_of(record["id"])) == content
    props = stores.container.get_blob_client(stores.path_of(record["id"])).get_blob_properties()
    assert props.content_settings.content_type == "image/png"
    assert stores.leftovers(user).used_bytes == len(content)


def test_path_comes_from_the_user_and_a_generated_name_never_the_filename(upload, user, stores):
    response = upload(user, text(), filename="../../etc/passwd\r\nX: y", mime="text/plain")
    assert response.status_code == 201, response.text
    record = response.json()["file"]
    assert stores.path_of(record["id"]) == f"users/{user}/{record['id']}.txt"
    assert "/" not in record["original_name"] and "\n" not in record["original_name"]
    assert stores.blobs(f"users/{user}/") == [stores.path_of(record["id"])]


def test_user_ids_that_are_not_path_safe_are_hashed(upload, stores):
    odd_user = "tenant/42:alice"
    response = upload(odd_user, text(), filename="a.txt", mime="text/plain")
    assert response.status_code == 201, response.text
    path = stores.path_of(response.json()["file"]["id"])
    assert path.startswith("users/h-") and "tenant" not in path


def test_the_content_decides_the_type_not_the_name(upload, user, stores):
    before = stores.leftovers(user)
    response = upload(user, EXE + b"\x00" * 4096, filename="invoice.pdf",
                      mime="application/octet-stream")
    body = assert_error(response, 415, "INVALID_FILE_TYPE")
    assert body["details"]["detected_type"] != "application/pdf"
    assert stores.leftovers(user) == before


def test_declared_type_must_match_the_content(upload, user, stores):
    before = stores.leftovers(user)
    response = upload(user, png(), filename="photo.png", mime="application/pdf")
    body = assert_error(response, 415, "INVALID_FILE_TYPE")
    assert body["details"] == {**body["details"], "declared_type": "application/pdf",
                               "detected_type": "image/png"}
    assert stores.leftovers(user) == before


def test_a_browser_executable_type_is_refused(upload, user, stores):
    page = b"<!DOCTYPE html><html><script>alert(1)</script></html>"
    assert_error(upload(user, page, filename="x.txt", mime="text/plain"), 415,
                 "INVALID_FILE_TYPE")
    assert stores.leftovers(user).rows == 0


@pytest.mark.parametrize("first_line", ["BMW est une voiture allemande.", "MZ est une ville.",
                                        "ID3 tags", "GIF89a is a format", "%PDF-1.7\nnotes",
                                        "RIFF", "OggS", "fLaC"])
def test_text_that_begins_like_a_magic_number_is_stored_as_text(upload, user, first_line):
    content = f"{first_line}\n".encode() + text(3000)
    response = upload(user, content, filename="notes.txt", mime="text/plain")
    assert response.status_code == 201, response.text
    assert response.json()["file"]["mime_type"] == "text/plain"


@pytest.mark.parametrize("content", [
    b"\xff\xfe" + "<!DOCTYPE html><html><script>alert(1)</script>".encode("utf-16-le"),
    b"\xff\xfe" + EXE + b"\x00" * 4096,
], ids=["utf-16 html", "executable"])
def test_a_byte_order_mark_does_not_make_bytes_text(upload, user, stores, content):
    response = upload(user, content, filename="x.txt", mime="text/plain")
    assert_error(response, 415, "INVALID_FILE_TYPE")
    assert stores.leftovers(user).rows == 0
    utf16 = b"\xff\xfe" + "Il était une fois…\n".encode("utf-16-le")
    assert upload(user, utf16, filename="conte.txt", mime="text/plain").status_code == 201


def test_an_image_holding_a_script_is_refused(upload, user, stores):
    script = b"<script>alert(document.domain)</script>"
    gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
           + b"!\xfe" + bytes([len(script)]) + script + b"\x00"  # a comment extension
           + b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    body = assert_error(upload(user, gif, filename="x.gif", mime="image/gif"), 415,
                        "INVALID_FILE_TYPE")
    assert body["details"]["detected_type"] != "image/gif"
    assert stores.leftovers(user).rows == 0


def test_too_large_is_413_and_leaves_nothing(upload, user, stores):
    before = stores.leftovers(user)
    response = upload(user, png(3 * MiB + 1), filename="big.png", mime="image/png")
    body = assert_error(response, 413, "FILE_TOO_LARGE")
    assert body["details"]["max_size_bytes"] == 3 * MiB
    assert stores.leftovers(user) == before


def test_too_large_without_content_length_is_still_refused(api, auth_headers, user, stores):
    """A chunked body (no Content-Length) is measured while it streams."""
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode()

    def body():
        yield head + png(1024)
        for _ in range(4):
            yield b"\x00" * MiB
        yield f"\r\n--{boundary}--\r\n".encode()

    response = api.post("/api/v1/storage/upload", content=body(), headers={
        **auth_headers(user), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(response, 413, "FILE_TOO_LARGE")
    assert stores.leftovers(user).blobs == []


def test_quota_is_enforced_with_the_remaining_quota_in_details(upload, user, stores):
    for _ in range(3):
        assert upload(user, png(2 * MiB), mime="image/png").status_code == 201
    before = stores.leftovers(user)
    assert before.used_bytes == 6 * MiB
    response = upload(user, png(2 * MiB + 1), mime="image/png")
    body = assert_error(response, 413, "QUOTA_EXCEEDED")
    assert body["details"]["user_quota_remaining"] == 2 * MiB
    assert stores.leftovers(user) == before


def test_premium_has_a_larger_quota_and_admin_none(upload, user, stores):
    for _ in range(5):
        assert upload(user, png(2 * MiB), mime="image/png", role="premium").status_code == 201
    admin = f"{user}-admin"
    for _ in range(6):
        assert upload(admin, png(2 * MiB), mime="image/png", role="admin").status_code == 201
    assert stores.leftovers(admin).used_bytes == 12 * MiB


def test_checksum_header_is_verified(upload, user, stores):
    content = pdf()
    good = upload(user, content, filename="a.pdf", mime="application/pdf",
                  headers={"X-File-Checksum": md5(content).upper()})
    assert good.status_code == 201, good.text
    before = stores.leftovers(user)
    other = pdf()
    bad = upload(user, other, filename="b.pdf", mime="application/pdf",
                 headers={"X-File-Checksum": md5(content)})
    body = assert_error(bad, 422, "CHECKSUM_MISMATCH")
    assert body["details"]["actual_md5"] == md5(other)
    assert stores.leftovers(user) == before
    assert_error(upload(user, other, headers={"X-File-Checksum": "not-a-digest"}), 400,
                 "BAD_REQUEST")


def test_same_owner_same_bytes_is_409_another_owner_is_fine(upload, user, stores):
    content = png()
    first = upload(user, content, mime="image/png")
    assert first.status_code == 201
    before = stores.leftovers(user)
    again = upload(user, content, filename="copy.png", mime="image/png")
    body = assert_error(again, 409, "DUPLICATE_FILE")
    assert body["details"]["existing_file_id"] == first.json()["file"]["id"]
    assert stores.leftovers(user) == before
    assert upload(f"{user}-other", content, mime="image/png").status_code == 201


def test_invalid_metadata_is_422_with_the_field(upload, user, stores):
    response = upload(user, png(), mime="image/png", metadata={"tags": "not-a-list"})
    body = assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert body["details"]["errors"][0]["loc"] == "tags"
    assert_error(upload(user, png(), mime="image/png", metadata="{not json"), 422,
                 "UNPROCESSABLE_ENTITY")
    assert_error(upload(user, png(), mime="image/png", metadata={"surprise": 1}), 422,
                 "UNPROCESSABLE_ENTITY")
    assert stores.leftovers(user).rows == 0
    assert stores.leftovers(user).blobs == []


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b"{}"),
    ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; "
                                        b"name=\"file\"; filename=\"a\"\r\n\r\nabc"),  # cut
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; "
                                        b"name=\"other\"\r\n\r\nabc\r\n--x--\r\n"),  # no file
])
def test_malformed_requests_are_400(api, auth_headers, user, stores, content_type, body):
    response = api.post("/api/v1/storage/upload", content=body,
                        headers={**auth_headers(user), "Content-Type": content_type})
    assert_error(response, 400, "BAD_REQUEST")
    assert stores.leftovers(user) == Leftovers([], 0, 0)


def test_authentication_is_required(api, token_for, upload, user, stores, stack_env):
    import jwt

    files = {"file": ("a.png", png(), "image/png")}
    assert_error(api.post("/api/v1/storage/upload", files=files), 401, "UNAUTHORIZED")
    none_token = jwt.encode({"sub": user, "role": "admin", "exp": 4102444800}, None,
                            algorithm="none")
    expired = token_for(user, "user", exp=1)
    wrong_key = jwt.encode({"sub": user, "role": "user", "exp": 4102444800}, "x" * 40,
                           algorithm="HS256")
    unknown_role = token_for(user, "superuser")
    for token in (none_token, expired, wrong_key, unknown_role, "garbage"):
        response = api.post("/api/v1/storage/upload", files=files,
                            headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, "UNAUTHORIZED")
    assert stores.leftovers(user).rows == 0


def test_entra_style_roles_array_is_accepted(api, token_for, user):
    token = token_for(user, "user", roles=["Premium"])
    response = api.post("/api/v1/storage/upload", files={"file": ("a.txt", text(), "text/plain")},
                        headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


def test_request_id_is_echoed_in_errors(api):
    response = api.post("/api/v1/storage/upload", headers={"X-Request-ID": "req_trace_42"})
    body = assert_error(response, 401, "UNAUTHORIZED")
    assert body["request_id"] == "req_trace_42"
    assert response.headers["X-Request-ID"] == "req_trace_42"


def test_concurrent_duplicates_store_exactly_one(base_url, auth_headers, user, stores):
    """The database settles a race between two uploads of the same bytes."""
    import concurrent.futures

    content = png(MiB)

    def send() -> int:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            return client.post("/api/v1/storage/upload", headers=auth_headers(user),
                               files={"file": ("a.png", content, "image/png")}).status_code

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _: send(), range(4)))
    assert statuses == [201, 409, 409, 409]
    left = stores.leftovers(user)
    assert left.rows == 1 and len(left.blobs) == 1 and left.used_bytes == MiB


def test_uploads_beyond_the_instance_limit_get_429(devhost_with, auth_headers, user, stores):
    """MAX_CONCURRENT_UPLOADS bounds what one instance holds in flight."""
    import threading
    import time

    limited = devhost_with(MAX_CONCURRENT_UPLOADS="1")
    boundary = "slowb0undary"
    release = threading.Event()

    def slow_body():
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"slow.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png(2048)
        release.wait(20)
        yield f"\r\n--{boundary}--\r\n".encode()

    statuses: list[int] = []
    slow = threading.Thread(target=lambda: statuses.append(limited.post(
        "/api/v1/storage/upload", content=slow_body(), headers={
            **auth_headers(user), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    ).status_code))
    slow.start()
    try:
        time.sleep(1.0)  # the slow upload holds the only slot
        refused = limited.post("/api/v1/storage/upload", headers=auth_headers(user),
                               files={"file": ("b.png", png(), "image/png")})
        assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
        assert refused.headers["Retry-After"] == "1"
    finally:
        release.set()
        slow.join(30)
    assert statuses == [201]
    assert stores.leftovers(user).rows == 1
