"""tus requests by hand (httpx and raw sockets), for what real clients never do on purpose:
bad headers, a body cut short, two writers at once."""

from __future__ import annotations

import base64
import socket
import struct
import time
from urllib.parse import urlsplit

import httpx

TUS = "/api/v1/storage/upload/tus"
V = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(api: httpx.Client, headers: dict[str, str], length: int, **meta: str
           ) -> httpx.Response:
    extra = {**V, "Upload-Length": str(length)}
    if meta:
        extra["Upload-Metadata"] = metadata(**meta)
    return api.post(TUS, headers={**headers, **extra})


def location(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return urlsplit(response.headers["location"]).path


def patch(api: httpx.Client, headers: dict[str, str], path: str, offset: int, body: bytes,
          **extra: str) -> httpx.Response:
    return api.patch(path, content=body, headers={
        **headers, **V, "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream", **extra})


def offset(api: httpx.Client, headers: dict[str, str], path: str) -> int:
    response = api.head(path, headers={**headers, **V})
    assert response.status_code == 200, response.status_code
    return int(response.headers["upload-offset"])


class RawPatch:
    """A PATCH written on a socket by hand: it announces ``length`` bytes, sends some, and
    can hang there or drop the connection."""

    def __init__(self, base_url: str, headers: dict[str, str], path: str, at: int,
                 length: int) -> None:
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        lines = [f"PATCH {path} HTTP/1.1", f"Host: {parts.netloc}", "Tus-Resumable: 1.0.0",
                 f"Upload-Offset: {at}", "Content-Type: application/offset+octet-stream",
                 f"Content-Length: {length}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def drop(self) -> None:
        # SO_LINGER 0: the close resets the connection, as a client that dies does.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def answer(self) -> bytes:
        """The answer's status line and headers. (No half-close first: a server may take a
        FIN that arrives with the body's last bytes for a client gone, and not answer.)"""
        received = b""
        while b"\r\n\r\n" not in received and (chunk := self.sock.recv(65536)):
            received += chunk
        self.sock.close()
        return received


def wait_until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not hold within {timeout} s")
