"""Clients of the chunk protocol, for the resumable upload tests (plain httpx, as a client
that follows the specification would do)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import httpx

RESUMABLE = "/api/v1/storage/upload/resumable"


def init(api: httpx.Client, headers: dict[str, str], size: int, *, chunk_size: int | None = None,
         mime: str = "image/png", filename: str = "big.png", **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"filename": filename, "file_size": size, "mime_type": mime,
                            "project_id": "proj_r", **extra}
    if chunk_size is not None:
        body["chunk_size"] = chunk_size
    return api.post(f"{RESUMABLE}/init", json=body, headers=headers)


def session_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()["upload_session"]


def chunk_of(data: bytes, session: dict[str, Any], index: int) -> bytes:
    size = session["chunk_size"]
    return data[(index - 1) * size:index * size]


def put_chunk(api: httpx.Client, headers: dict[str, str], session: dict[str, Any], index: int,
              content: bytes, *, checksum: str | None = "auto") -> httpx.Response:
    extra = {"X-Upload-Session": session["session_id"], "X-Chunk-Index": str(index),
             "Content-Type": "application/octet-stream"}
    if checksum == "auto":
        checksum = hashlib.md5(content).hexdigest()
    if checksum is not None:
        extra["X-Chunk-Checksum"] = checksum
    return api.put(f"{RESUMABLE}/chunk", content=content, headers={**headers, **extra})


def send_all(api: httpx.Client, headers: dict[str, str], session: dict[str, Any], data: bytes,
             order: Iterable[int] | None = None) -> httpx.Response:
    """Every chunk (in ``order``, 1-based); the last response."""
    last = None
    for index in order or range(1, session["total_chunks"] + 1):
        last = put_chunk(api, headers, session, index, chunk_of(data, session, index))
        assert last.status_code == 200, last.text
    assert last is not None
    return last


def status(api: httpx.Client, headers: dict[str, str], session: dict[str, Any]
           ) -> httpx.Response:
    return api.get(f"{RESUMABLE}/{session['session_id']}", headers=headers)
