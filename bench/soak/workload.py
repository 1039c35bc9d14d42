"""The soak's clients: each loops over a weighted mix of the API's operations for its user
until the deadline, recording every request's latency and status, and every file the service
said it stored (id, size, SHA-256) for the checks afterwards."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

KiB = 1024
MiB = 1024 * KiB
API = "/api/v1/storage"
PNG = b"\x89PNG\r\n\x1a\n"
TUS_BODY = "application/offset+octet-stream"
CONNECTION_ERROR = 599  # the status recorded for a request that got no answer
PROJECTS = ("alpha", "beta", "gamma")
WORDS = ("report", "scan", "photo", "draft", "invoice")
# (operation, weight): uploads about a third of the requests, reads the rest.
MIX = (("upload_small", 22), ("upload_medium", 5), ("upload_large", 1), ("resumable", 2),
       ("tus", 2), ("list", 14), ("search", 6), ("details", 14), ("range", 14), ("download", 8),
       ("update", 8), ("trash_restore", 4))


@dataclass
class Stored:
    """A file the service answered 201 (or a completed session) for."""

    file_id: str
    user: str
    size: int
    sha256: str


@dataclass
class Record:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    stored: dict[str, Stored] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # unexpected answers, the first ones
    bytes_uploaded: int = 0

    def note(self, operation: str, status: int, seconds: float) -> None:
        self.latencies[operation].append(seconds)
        self.statuses[operation][status] += 1

    def unexpected(self, what: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(what)


def content(size: int) -> bytes:
    """Bytes that pass the PNG check, unique (no duplicate refusal)."""
    return PNG + os.urandom(max(size - len(PNG), 0))


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


class Client:
    """One simulated client of one user; ``files`` are the ids it may read and change."""

    def __init__(self, http: httpx.AsyncClient, token: str, user: str, record: Record,
                 rng: random.Random, *, max_size: int, budget: list[int],
                 chunk_size: int) -> None:
        self.http = http
        self.auth = {"Authorization": f"Bearer {token}"}
        self.user = user
        self.record = record
        self.rng = rng
        self.max_size = max_size
        self.budget = budget  # bytes left for uploads, shared by every client (a list cell)
        self.chunk_size = chunk_size
        self.files: list[str] = []

    async def run(self, deadline: float) -> None:
        operations, weights = zip(*MIX, strict=True)
        while time.monotonic() < deadline:
            name = self.rng.choices(operations, weights)[0]
            if not self.files and name not in {"upload_small", "list"}:
                name = "upload_small"
            try:
                await getattr(self, name)()
            except httpx.HTTPError as exc:  # a connection refused or cut: counted, reported
                self.record.note(name, CONNECTION_ERROR, 0.0)
                self.record.unexpected(f"{name}: {type(exc).__name__}: {exc}")

    async def _call(self, operation: str, method: str, url: str, ok: set[int],
                    **kwargs: Any) -> httpx.Response:
        """One request, retried after a 429 (counted) as a client following Retry-After."""
        for _ in range(20):
            started = time.perf_counter()
            response = await self.http.request(method, url, headers={
                **self.auth, **kwargs.pop("headers", {})}, **kwargs)
            self.record.note(operation, response.status_code, time.perf_counter() - started)
            if response.status_code != 429:
                break
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 5))
        if response.status_code not in ok:
            self.record.unexpected(f"{operation} {method} {url}: {response.status_code} "
                                   f"{response.text[:300]}")
        return response

    def _size(self, low: int, high: int) -> int:
        high = min(high, self.max_size)
        if self.budget[0] <= 0 or low >= high:
            low, high = KiB, min(64 * KiB, self.max_size)
        size = log_uniform(self.rng, low, high)
        self.budget[0] -= size
        return size

    # -- uploads

    async def upload_small(self) -> None:
        await self._upload("upload_small", self._size(KiB, 256 * KiB))

    async def upload_medium(self) -> None:
        await self._upload("upload_medium", self._size(256 * KiB, 4 * MiB))

    async def upload_large(self) -> None:
        await self._upload("upload_large", self._size(4 * MiB, 20 * MiB))

    async def _upload(self, operation: str, size: int) -> None:
        data = content(size)
        metadata = json.dumps({"project_id": self.rng.choice(PROJECTS),
                               "tags": [self.rng.choice(WORDS)],
                               "description": f"{self.rng.choice(WORDS)} {uuid.uuid4().hex[:6]}"})
        response = await self._call(operation, "POST", f"{API}/upload", {201}, files={
            "file": (f"{operation}.png", data, "image/png"),
            "metadata": (None, metadata, "application/json")})
        if response.status_code == 201:
            self._stored(response.json()["file"]["id"], data)

    def _stored(self, file_id: str, data: bytes) -> None:
        self.record.stored[file_id] = Stored(file_id, self.user, len(data),
                                             hashlib.sha256(data).hexdigest())
        self.record.bytes_uploaded += len(data)
        self.files.append(file_id)

    async def resumable(self) -> None:
        data = content(self._size(self.chunk_size, 8 * MiB))
        response = await self._call("resumable_init", "POST", f"{API}/upload/resumable/init",
                                    {201}, json={"filename": "r.png", "file_size": len(data),
                                                 "mime_type": "image/png",
                                                 "chunk_size": self.chunk_size})
        if response.status_code != 201:
            return
        session = response.json()["upload_session"]
        size = session["chunk_size"]
        for index in range(1, session["total_chunks"] + 1):
            piece = data[(index - 1) * size:index * size]
            response = await self._call("resumable_chunk", "PUT", f"{API}/upload/resumable/chunk",
                                        {200}, content=piece, headers={
                                            "X-Upload-Session": session["session_id"],
                                            "X-Chunk-Index": str(index),
                                            "Content-Type": "application/octet-stream"})
            if response.status_code != 200:
                return
        self._stored(response.json()["file"]["id"], data)

    async def tus(self) -> None:
        """tus 1.0: create, then PATCHes of 256 KiB to 1 MiB; the last answer names the file."""
        data = content(self._size(64 * KiB, 4 * MiB))
        version = {"Tus-Resumable": "1.0.0"}
        meta = ",".join(f"{key} {base64.b64encode(value).decode()}"
                        for key, value in (("filename", b"t.png"), ("filetype", b"image/png")))
        created = await self._call("tus_create", "POST", f"{API}/upload/tus", {201}, headers={
            **version, "Upload-Length": str(len(data)), "Upload-Metadata": meta})
        if created.status_code != 201:
            return
        path = urlsplit(created.headers["location"]).path
        at, response = 0, created
        while at < len(data):
            piece = data[at:at + self.rng.choice([256 * KiB, 512 * KiB, MiB])]
            response = await self._call("tus_patch", "PATCH", path, {204}, content=piece,
                                        headers={**version, "Upload-Offset": str(at),
                                                 "Content-Type": TUS_BODY})
            if response.status_code != 204:
                return
            at += len(piece)
        self._stored(response.headers["x-file-id"], data)

    # -- reads and changes

    def _pick(self) -> str:
        return self.rng.choice(self.files)

    async def list(self) -> None:
        params: dict[str, Any] = {"limit": self.rng.choice([10, 20, 50]),
                                  "sort": self.rng.choice(["created_at", "size_bytes"]),
                                  "order": self.rng.choice(["asc", "desc"])}
        if self.rng.random() < 0.5:
            params["project_id"] = self.rng.choice(PROJECTS)
        if self.rng.random() < 0.3:
            params["file_type"] = "image"
        await self._call("list", "GET", f"{API}/files", {200}, params=params)

    async def search(self) -> None:
        await self._call("search", "GET", f"{API}/files", {200},
                         params={"search": self.rng.choice(WORDS), "limit": 20})

    async def details(self) -> None:
        await self._call("details", "GET", f"{API}/files/{self._pick()}", {200})

    async def range(self) -> None:
        file_id = self._pick()
        size = self.record.stored[file_id].size
        start = self.rng.randrange(size)
        end = min(size - 1, start + self.rng.choice([1023, 64 * KiB, MiB]))
        response = await self._call("range", "GET", f"{API}/stream/{file_id}", {206},
                                    headers={"Range": f"bytes={start}-{end}"})
        if response.status_code == 206 and len(response.content) != end - start + 1:
            self.record.unexpected(f"range {file_id} {start}-{end}: "
                                   f"{len(response.content)} bytes")

    async def download(self) -> None:
        file_id = self._pick()
        response = await self._call("download", "GET", f"{API}/download/{file_id}", {200},
                                    follow_redirects=True)
        if response.status_code == 200 and \
                hashlib.sha256(response.content).hexdigest() != self.record.stored[file_id].sha256:
            self.record.unexpected(f"download {file_id}: bytes differ")

    async def update(self) -> None:
        await self._call("update", "PUT", f"{API}/files/{self._pick()}", {200}, json={
            "project_id": self.rng.choice(PROJECTS),
            "metadata": {"description": f"{self.rng.choice(WORDS)} v{self.rng.randrange(99)}",
                         "tags": [self.rng.choice(WORDS)]}})

    async def trash_restore(self) -> None:
        file_id = self._pick()
        deleted = await self._call("trash", "DELETE", f"{API}/files/{file_id}", {200})
        if deleted.status_code == 200:
            await self._call("restore", "POST", f"{API}/files/{file_id}/restore", {200})


Operation = Callable[[], Awaitable[None]]
