"""GET/HEAD /api/v1/storage/stream/{id}: RFC 9110 ranges, validators and preconditions,
safe headers, and who may read. (Byte-level parity with nginx is test_stream_nginx_parity.)"""

from __future__ import annotations

import email.parser
import email.policy
import time

import pytest

from tests.integration.helpers import assert_error, text

STREAM = "/api/v1/storage/stream"


@pytest.fixture
def plain_file(upload, user):
    content = text(300_000)
    response = upload(user, content, filename="chapitre.txt", mime="text/plain")
    assert response.status_code == 201, response.text
    return response.json()["file"]["id"], content


def test_whole_file_with_validators_and_safe_headers(api, auth_headers, user, plain_file):
    file_id, content = plain_file
    response = api.get(f"{STREAM}/{file_id}", headers=auth_headers(user))
    assert response.status_code == 200 and response.content == content
    h = response.headers
    assert h["Accept-Ranges"] == "bytes" and h["Content-Length"] == str(len(content))
    assert h["ETag"].startswith('"') and not h["ETag"].startswith('W/')
    assert h["Last-Modified"].endswith("GMT")
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Content-Type"].startswith("text/plain")
    assert h["Content-Disposition"].startswith("inline;")
    assert "private" in h["Cache-Control"]


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-0", 0, 0), ("bytes=0-1023", 0, 1023), ("bytes=1000-", 1000, 299_999),
    ("bytes=-500", 299_500, 299_999), ("bytes=299999-", 299_999, 299_999),
    ("bytes=100-9999999", 100, 299_999), ("BYTES=7-8", 7, 8),
])
def test_single_ranges(api, auth_headers, user, plain_file, header, start, end):
    file_id, content = plain_file
    response = api.get(f"{STREAM}/{file_id}", headers={**auth_headers(user), "Range": header})
    assert response.status_code == 206, response.text
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(content)}"
    assert response.content == content[start:end + 1]
    assert response.headers["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize("header", ["bytes=300000-", "bytes=-0", "bytes=999999-1000000"])
def test_unsatisfiable_ranges_are_416(api, auth_headers, user, plain_file, header):
    file_id, content = plain_file
    response = api.get(f"{STREAM}/{file_id}", headers={**auth_headers(user), "Range": header})
    assert_error(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["Content-Range"] == f"bytes */{len(content)}"


@pytest.mark.parametrize("header", ["bytes=5-1", "bytes=abc", "items=0-1", "bytes=", "0-10"])
def test_malformed_ranges_are_ignored(api, auth_headers, user, plain_file, header):
    file_id, content = plain_file
    response = api.get(f"{STREAM}/{file_id}", headers={**auth_headers(user), "Range": header})
    assert response.status_code == 200 and response.content == content


def test_several_ranges_answer_multipart_byteranges(api, auth_headers, user, plain_file):
    file_id, content = plain_file
    response = api.get(f"{STREAM}/{file_id}",
                       headers={**auth_headers(user), "Range": "bytes=0-9,100-199,-5"})
    assert response.status_code == 206
    assert response.headers["Content-Type"].startswith("multipart/byteranges; boundary=")
    assert int(response.headers["Content-Length"]) == len(response.content)
    raw = (f"Content-Type: {response.headers['Content-Type']}\r\n\r\n").encode() + \
        response.content
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    parts = [(p["Content-Range"], p.get_payload(decode=True)) for p in message.iter_parts()]
    size = len(content)
    assert parts == [
        (f"bytes 0-9/{size}", content[0:10]),
        (f"bytes 100-199/{size}", content[100:200]),
        (f"bytes {size - 5}-{size - 1}/{size}", content[-5:]),
    ]


def test_head_sends_the_headers_only(api, auth_headers, user, plain_file):
    file_id, content = plain_file
    response = api.head(f"{STREAM}/{file_id}", headers=auth_headers(user))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Content-Length"] == str(len(content))
    ranged = api.head(f"{STREAM}/{file_id}", headers={**auth_headers(user), "Range": "bytes=-10"})
    assert ranged.status_code == 206 and ranged.headers["Content-Length"] == "10"


def test_preconditions(api, auth_headers, user, plain_file):
    file_id, content = plain_file
    h = auth_headers(user)
    first = api.get(f"{STREAM}/{file_id}", headers=h)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    not_modified = api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": f'"x", W/{etag}'}
                   ).status_code == 304  # weak comparison for If-None-Match
    assert api.get(f"{STREAM}/{file_id}", headers={**h, "If-Modified-Since": modified}
                   ).status_code == 304
    assert api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": '"other"'}
                   ).status_code == 200
    assert_error(api.get(f"{STREAM}/{file_id}", headers={**h, "If-Match": '"other"'}), 412,
                 "PRECONDITION_FAILED")
    same = api.get(f"{STREAM}/{file_id}", headers={**h, "If-Range": etag, "Range": "bytes=0-3"})
    assert same.status_code == 206 and same.content == content[:4]
    changed = api.get(f"{STREAM}/{file_id}",
                      headers={**h, "If-Range": '"stale"', "Range": "bytes=0-3"})
    assert changed.status_code == 200 and changed.content == content


def test_a_hostile_entity_tag_list_does_not_hold_the_worker(api, auth_headers, user,
                                                            plain_file):
    """`"a",` + 30,000 spaces + `x` took 6.5 s of the event loop's CPU; other requests waited."""
    file_id, content = plain_file
    h = auth_headers(user)
    etag = api.head(f"{STREAM}/{file_id}", headers=h).headers["ETag"]
    hostile = '"a",' + " " * 30_000 + "x"
    started = time.perf_counter()
    response = api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": hostile})
    assert response.status_code == 200 and response.content == content
    assert_error(api.get(f"{STREAM}/{file_id}", headers={**h, "If-Match": hostile}), 412,
                 "PRECONDITION_FAILED")
    assert time.perf_counter() - started < 2.0  # the old pattern alone took 6.5 s
    # A list over the bound is not read: it holds no tag, so the current one does not match.
    long_list = ", ".join(['"filler"'] * 1000 + [etag])
    assert api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": long_list}
                   ).status_code == 200
    assert api.get(f"{STREAM}/{file_id}", headers={**h, "If-None-Match": f'"a,b", {etag}'}
                   ).status_code == 304


def test_public_files_stream_to_anyone_private_ones_to_owner_and_admin(
        api, auth_headers, upload, user, plain_file):
    file_id, _ = plain_file
    assert_error(api.get(f"{STREAM}/{file_id}"), 401, "UNAUTHORIZED")  # no token
    assert_error(api.get(f"{STREAM}/{file_id}", headers=auth_headers(f"{user}-x")), 404,
                 "NOT_FOUND")
    assert api.get(f"{STREAM}/{file_id}", headers=auth_headers("a", "admin")).status_code == 200
    public = upload(user, text(100), mime="text/plain", metadata={"is_public": True})
    public_id = public.json()["file"]["id"]
    response = api.get(f"{STREAM}/{public_id}", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206 and "public" in response.headers["Cache-Control"]


def test_types_a_browser_could_execute_are_attachments(api, auth_headers, upload, user):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = upload(user, svg, filename="logo.svg", mime="image/svg+xml")
    assert response.status_code == 201, response.text
    file_id = response.json()["file"]["id"]
    streamed = api.get(f"{STREAM}/{file_id}", headers=auth_headers(user))
    assert streamed.headers["Content-Disposition"].startswith("attachment;")
    assert streamed.headers["X-Content-Type-Options"] == "nosniff"
    assert streamed.headers["Content-Security-Policy"] == "sandbox"
    # Served by the service itself (a SAS could not add the sandbox), still an attachment.
    download = api.get(f"/api/v1/storage/download/{file_id}", headers=auth_headers(user),
                       params={"disposition": "inline"})
    assert download.status_code == 200 and download.content == svg
    assert download.headers["Content-Disposition"] == 'attachment; filename="logo.svg"'
    assert download.headers["Content-Security-Policy"] == "sandbox"
