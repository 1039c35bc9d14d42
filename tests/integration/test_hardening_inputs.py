"""Bad input never answers 500 (issue 6, items 3, 8, 9 and 13): canonical ids only, bounded
JSON, no NUL, strict types, null semantics of PUT, anonymous access answered 401."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlsplit

import pytest

from tests.integration.helpers import Leftovers, assert_error, png, text

API = "/api/v1/storage"
FILES = f"{API}/files"


@pytest.fixture
def file_id(upload, user) -> str:
    response = upload(user, text(500), filename="notes.txt", mime="text/plain",
                      metadata={"tags": ["a"], "custom_fields": {"k": "v"}})
    assert response.status_code == 201, response.text
    return response.json()["file"]["id"]


def _spellings(file_id: str) -> list[str]:
    """The same UUID in every form but the canonical one."""
    value = uuid.UUID(file_id)
    return [file_id.upper(), value.hex, f"{{{file_id}}}", value.urn]


def test_ids_are_accepted_only_in_canonical_form(api, auth_headers, user, file_id):
    h = auth_headers(user)
    assert api.get(f"{FILES}/{file_id}", headers=h).status_code == 200
    for spelling in _spellings(file_id):
        for method, path in [("GET", f"{FILES}/{spelling}"), ("PUT", f"{FILES}/{spelling}"),
                             ("DELETE", f"{FILES}/{spelling}"),
                             ("POST", f"{FILES}/{spelling}/restore"),
                             ("GET", f"{API}/download/{spelling}"),
                             ("GET", f"{API}/stream/{spelling}"),
                             ("HEAD", f"{API}/stream/{spelling}")]:
            response = api.request(method, path, headers=h, json={} if method == "PUT" else None)
            if method == "HEAD":
                assert response.status_code == 404, (method, path)
            else:
                assert_error(response, 404, "NOT_FOUND")
    assert api.get(f"{FILES}/{file_id}", headers=h).json()["file"]["deleted_at"] is None


def test_other_routes_with_ids_refuse_other_spellings(api, auth_headers, user):
    h = auth_headers(user)
    some = str(uuid.uuid4())
    for spelling in _spellings(some):
        assert_error(api.get(f"{API}/upload/resumable/{spelling}", headers=h), 404,
                     "NOT_FOUND")
        assert_error(api.get(f"{API}/cdn/purge/{spelling}", headers=h), 404, "NOT_FOUND")
        assert api.get(f"/files/{spelling}").status_code == 404


def test_stream_of_a_urn_without_a_token_is_401_not_500(api):
    response = api.get(f"{API}/stream/urn:uuid:12345678-1234-5678-1234-567812345678")
    assert_error(response, 401, "UNAUTHORIZED")


def test_no_token_is_401_whether_the_file_exists_or_not(api, auth_headers, user, file_id):
    for path in (f"{API}/download/{file_id}", f"{API}/stream/{file_id}",
                 f"{API}/download/{uuid.uuid4()}", f"{API}/stream/{uuid.uuid4()}"):
        assert_error(api.get(path), 401, "UNAUTHORIZED")
        # with a token, another user's file (or none) stays 404
        assert_error(api.get(path, headers=auth_headers("someone-else")), 404, "NOT_FOUND")
    assert api.get(f"{API}/stream/{file_id}", headers=auth_headers(user)).status_code == 200


def test_a_deeply_nested_body_is_400(api, auth_headers, user, file_id):
    response = api.put(f"{FILES}/{file_id}", content=b"[" * 60_000,
                       headers={**auth_headers(user), "Content-Type": "application/json"})
    assert_error(response, 400, "BAD_REQUEST")


def test_a_json_body_past_the_limit_is_refused_without_reading_the_rest(base_url, auth_headers,
                                                                        user, file_id):
    """A chunked body that never ends: answered as soon as 64 KiB have passed."""
    address = urlsplit(base_url)
    token = auth_headers(user)["Authorization"]
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall((f"PUT {FILES}/{file_id} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                      ).encode())
        chunk = b'{"metadata": {"description": "' + b"x" * 80_000
        sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # the body never ends: only an early answer arrives
            answer += chunk  # (and the connection is closed after it)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"Request body too large" in answer


def test_a_declared_length_past_the_limit_is_refused(api, auth_headers, user, file_id):
    response = api.put(f"{FILES}/{file_id}", content=b" " * (64 * 1024 + 1),
                       headers={**auth_headers(user), "Content-Type": "application/json"})
    assert_error(response, 400, "BAD_REQUEST")


def test_a_boundary_over_256_characters_is_400(api, auth_headers, user, stores):
    boundary = "b" * 300
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\""
            f"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    response = api.post(f"{API}/upload", content=body, headers={
        **auth_headers(user), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_error(response, 400, "BAD_REQUEST")
    assert stores.leftovers(user) == Leftovers([], 0, 0)


@pytest.mark.parametrize("params", [{"search": "a\x00b"}, {"project_id": "\x00"},
                                    {"file_type": "image\x00"}, {"user_id": "u\x00"}])
def test_nul_in_a_query_is_400(api, auth_headers, user, params):
    assert_error(api.get(FILES, headers=auth_headers(user), params=params), 400,
                 "VALIDATION_ERROR")


@pytest.mark.parametrize("payload", [
    {"original_name": "a\x00.txt"}, {"project_id": "p\x00"},
    {"metadata": {"description": "\x00"}}, {"metadata": {"tags": ["t\x00"]}},
    {"metadata": {"custom_fields": {"k": "\x00"}}},
    {"metadata": {"custom_fields": {"k\x00": 1}}},
])
def test_nul_in_a_put_is_422_and_changes_nothing(api, auth_headers, user, file_id, payload):
    h = auth_headers(user)
    before = api.get(f"{FILES}/{file_id}", headers=h).json()["file"]
    assert_error(api.put(f"{FILES}/{file_id}", headers=h, json=payload), 422,
                 "UNPROCESSABLE_ENTITY")
    assert api.get(f"{FILES}/{file_id}", headers=h).json()["file"] == before


def test_nul_in_upload_metadata_is_422_and_leaves_nothing(upload, user, stores):
    response = upload(user, png(), mime="image/png",
                      metadata={"description": "x\x00", "custom_fields": {"a": "\x00"}})
    assert_error(response, 422, "UNPROCESSABLE_ENTITY")
    assert stores.leftovers(user) == Leftovers([], 0, 0)


@pytest.mark.parametrize("payload", [
    {"expires_at": 0}, {"expires_at": "2001-01-01T00:00:00Z"}, {"is_public": "yes"},
    {"is_public": 1}, {"expires_at": "2001-01-01T00:00:00"},
])
def test_strict_types_and_past_expiry_are_refused(api, auth_headers, user, file_id, payload):
    h = auth_headers(user)
    before = api.get(f"{FILES}/{file_id}", headers=h).json()["file"]
    assert_error(api.put(f"{FILES}/{file_id}", headers=h, json=payload), 422,
                 "UNPROCESSABLE_ENTITY")
    assert api.get(f"{FILES}/{file_id}", headers=h).json()["file"] == before


@pytest.mark.parametrize("metadata", [{"expires_at": "2001-01-01T00:00:00Z"},
                                      {"expires_at": 0}, {"is_public": "yes"}])
def test_upload_metadata_is_strict_and_expiry_ahead(upload, user, stores, metadata):
    assert_error(upload(user, png(), mime="image/png", metadata=metadata), 422,
                 "UNPROCESSABLE_ENTITY")
    assert stores.leftovers(user) == Leftovers([], 0, 0)


def test_a_future_expiry_is_accepted(api, auth_headers, user, file_id):
    response = api.put(f"{FILES}/{file_id}", headers=auth_headers(user),
                       json={"expires_at": "2999-01-01T00:00:00Z", "is_public": False})
    assert response.status_code == 200, response.text
    assert response.json()["file"]["expires_at"].startswith("2999-01-01")


def test_null_tags_and_custom_fields_empty_them(api, auth_headers, user, file_id, stores):
    h = auth_headers(user)
    response = api.put(f"{FILES}/{file_id}", headers=h,
                       json={"metadata": {"custom_fields": None, "tags": None}})
    assert response.status_code == 200, response.text
    details = api.get(f"{FILES}/{file_id}", headers=h)
    assert details.status_code == 200, details.text
    assert details.json()["file"]["tags"] == [] and details.json()["file"]["custom_fields"] == {}
    row = stores.sql("SELECT tags, custom_fields FROM files WHERE id = %s", (file_id,))[0]
    assert row == {"tags": [], "custom_fields": {}}
    assert api.delete(f"{FILES}/{file_id}", headers=h).status_code == 200
    assert api.post(f"{FILES}/{file_id}/restore", headers=h).status_code == 200


def test_null_name_and_visibility_leave_them_as_they_are(api, auth_headers, user, file_id):
    h = auth_headers(user)
    response = api.put(f"{FILES}/{file_id}", headers=h,
                       json={"original_name": None, "is_public": None})
    assert response.status_code == 200, response.text
    assert response.json()["file"]["original_name"] == "notes.txt"
    assert response.json()["file"]["is_public"] is False


def test_an_empty_put_body_changes_nothing(api, auth_headers, user, file_id):
    h = auth_headers(user)
    before = api.get(f"{FILES}/{file_id}", headers=h).json()["file"]
    response = api.put(f"{FILES}/{file_id}", headers=h, content=b"")
    assert response.status_code == 200, response.text
    assert response.json()["file"] == before


@pytest.mark.parametrize(("sent", "stored"), [
    ("../../.bashrc\r\nX-Evil: 1", "bashrcX-Evil_ 1"),
    ("report\u202egpj.exe", "reportgpj.exe"),
    ("C:\\Users\\me\\rapport.pdf", "rapport.pdf"),
])
def test_a_name_set_by_put_is_sanitised_like_an_upload(api, auth_headers, user, file_id, sent,
                                                       stored):
    response = api.put(f"{FILES}/{file_id}", headers=auth_headers(user),
                       json={"original_name": sent})
    assert response.status_code == 200, response.text
    assert response.json()["file"]["original_name"] == stored
