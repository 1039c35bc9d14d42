"""What a client can make an upload hold (issue 6, item 4): a refused upload is drained at
most a few MiB and then its connection closed, unknown parts and the number of parts are
bounded, a stalled upload is ended after UPLOAD_IDLE_TIMEOUT_SECONDS with nothing kept."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

from tests.integration.helpers import PNG, Leftovers, assert_error, png

MiB = 1024 * 1024
UPLOAD = "/api/v1/storage/upload"
BOUNDARY = "bound4ry"


def _part(name: str, data: bytes, filename: str | None = None) -> bytes:
    extra = f'; filename="{filename}"' if filename else ""
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n'
            ).encode() + data + b"\r\n"


def _multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _headers(auth: dict[str, str]) -> dict[str, str]:
    return {**auth, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def _connect(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def _request_head(length: int, authorization: str | None) -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (f"POST {UPLOAD} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: multipart/form-data; "
            f"boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n").encode()


def test_a_refused_upload_is_drained_at_most_a_few_mib_then_closed(base_url):
    """No token: 401 before the body is read; the body (1 GiB announced) is not read
    past a few MiB, the connection is closed instead."""
    received = bytearray()
    with _connect(base_url) as sock:
        def read() -> None:
            try:
                while chunk := sock.recv(65536):
                    received.extend(chunk)
            except OSError:
                pass

        reader = threading.Thread(target=read)
        reader.start()
        sent = 0
        try:
            sock.sendall(_request_head(1024**3, None) + _part("file", b"", "a.bin")[:-2])
            block = b"\0" * (256 * 1024)
            while sent < 64 * MiB:
                sock.sendall(block)
                sent += len(block)
        except OSError:  # reset or stalled: the service stopped reading
            pass
        reader.join(timeout=15)
    assert received.startswith(b"HTTP/1.1 401"), bytes(received[:100])
    assert b"connection: close" in bytes(received).lower()
    assert sent < 32 * MiB, sent


def test_a_refused_small_upload_is_still_answered(api, user, stores):
    """Under the drain limit the whole body is read and the answer arrives."""
    response = api.post(UPLOAD, content=_multipart(_part("file", png(2 * MiB), "a.png")),
                        headers=_headers({}))
    assert_error(response, 401, "UNAUTHORIZED")


def test_the_number_of_parts_is_bounded(api, auth_headers, user, stores):
    parts = [_part(f"field{i}", b"x") for i in range(17)]
    response = api.post(UPLOAD, content=_multipart(*parts, _part("file", png(), "a.png")),
                        headers=_headers(auth_headers(user)))
    body = assert_error(response, 400, "BAD_REQUEST")
    assert body["details"]["max_parts"] == 16
    assert stores.leftovers(user) == Leftovers([], 0, 0)


def test_bytes_in_unknown_parts_are_bounded(api, auth_headers, user, stores):
    response = api.post(UPLOAD, content=_multipart(
        _part("file", png(), "a.png"), _part("comment", b"c" * (65 * 1024))),
        headers=_headers(auth_headers(user)))
    assert_error(response, 400, "BAD_REQUEST")
    assert stores.leftovers(user) == Leftovers([], 0, 0)


def test_a_few_unknown_fields_are_still_accepted(api, auth_headers, user):
    response = api.post(UPLOAD, content=_multipart(
        _part("submit", b"Envoyer"), _part("file", png(), "a.png")),
        headers=_headers(auth_headers(user)))
    assert response.status_code == 201, response.text


def test_a_stalled_upload_ends_after_the_idle_timeout(devhost_with, auth_headers, user, stores):
    client = devhost_with(UPLOAD_IDLE_TIMEOUT_SECONDS="1")
    start = _part("file", PNG + b"\0" * (600 * 1024), "a.png")[:-2]  # the file part goes on
    with _connect(str(client.base_url)) as sock:
        sock.sendall(_request_head(len(start) + MiB, auth_headers(user)["Authorization"])
                     + start)
        began = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"UPLOAD_TIMEOUT"' in answer
    assert waited < 8, waited
    assert stores.leftovers(user) == Leftovers([], 0, 0)
