"""Multipart upload bodies for unit tests of the upload pipeline, sent in small chunks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from shared.auth import Principal, Role
from shared.files.upload import UploadRequest

BOUNDARY = "unit-test-boundary-7d1c"
PNG = b"\x89PNG\r\n\x1a\n"


def multipart(content: bytes | None, *, filename: str = "photo.png",
              mime: str = "image/png", metadata: dict[str, Any] | str | None = None,
              closed: bool = True) -> bytes:
    parts = []
    if metadata is not None:
        raw = metadata if isinstance(metadata, str) else json.dumps(metadata)
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n'
                     f"Content-Type: application/json\r\n\r\n{raw}\r\n".encode())
    if content is not None:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{filename}"\r\nContent-Type: {mime}\r\n\r\n'.encode()
                     + content + b"\r\n")
    return b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if closed else b"")


async def chunks(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def request(user: str = "alice", role: Role = Role.USER, *, length: int | None = None,
            checksum: str | None = None) -> UploadRequest:
    return UploadRequest(principal=Principal(user, role),
                         content_type=f"multipart/form-data; boundary={BOUNDARY}",
                         content_length=length, checksum_md5=checksum)
