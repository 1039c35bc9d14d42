"""Resumable uploads of 1 GiB in 8 MiB chunks, through the specification's chunk protocol
(sequential, and two chunks in flight) and through tus (8 MiB PATCHes), beside
azure-storage-blob staging the same 8 MiB blocks (with their MD5, two in flight) from memory
and committing them: the ceiling of any staged upload on this Azurite. Then the devhost's
peak memory for 100 MiB and 1 GiB uploads (it must not grow with the file)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobBlock, ContainerClient

from bench.harness import Bench, MiB, PeakRss, interleaved, make_file, row

SIZE = 1024 * MiB
SMALL = 100 * MiB
CHUNK = 8 * MiB
RUNS = 2


class Client:
    """One keep-alive HTTP connection (http.client: not the bottleneck, unlike httpx)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                timeout=600, blocksize=MiB)
        self._auth = {"Authorization": f"Bearer {token}"}

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
             expect: int) -> tuple[dict[str, str], bytes]:
        self._conn.request(method, path, body=body, headers={**self._auth, **headers})
        response = self._conn.getresponse()
        payload = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:300]!r}")
        return {k.lower(): v for k, v in response.getheaders()}, payload

    def close(self) -> None:
        self._conn.close()


def _chunks(path: Path, size: int) -> Callable[[int], bytes]:
    def read(index: int) -> bytes:
        with path.open("rb") as f:
            f.seek((index - 1) * size)
            return f.read(size)
    return read


def spec_upload(url: str, token: str, path: Path, *, parallel: int = 1) -> dict[str, Any]:
    size = path.stat().st_size
    client = Client(url, token)
    _, raw = client.send("POST", "/api/v1/storage/upload/resumable/init", json.dumps({
        "filename": path.name, "file_size": size, "mime_type": "image/png",
        "chunk_size": CHUNK}).encode(), {"Content-Type": "application/json"}, 201)
    client.close()
    session = json.loads(raw)["upload_session"]
    read = _chunks(path, session["chunk_size"])

    def send(indices: list[int]) -> dict[str, Any]:
        own = Client(url, token)
        last: dict[str, Any] = {}
        try:
            for index in indices:
                data = read(index)
                _, answer = own.send("PUT", "/api/v1/storage/upload/resumable/chunk", data, {
                    "X-Upload-Session": session["session_id"], "X-Chunk-Index": str(index),
                    "X-Chunk-Checksum": hashlib.md5(data).hexdigest(),
                    "Content-Type": "application/octet-stream"}, 200)
                last = json.loads(answer)
        finally:
            own.close()
        return last

    indices = list(range(1, session["total_chunks"] + 1))
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(send, [indices[i::parallel] for i in range(parallel)]))
    done = [r["file"] for r in results if r.get("file")]
    if not done:
        raise RuntimeError("no chunk completed the upload")
    return dict(done[0])


def tus_upload(url: str, token: str, path: Path) -> str:
    size = path.stat().st_size
    client = Client(url, token)
    try:
        created, _ = client.send("POST", "/api/v1/storage/upload/tus", None, {
            "Tus-Resumable": "1.0.0", "Upload-Length": str(size),
            "Upload-Metadata": "filetype " + base64.b64encode(b"image/png").decode()}, 201)
        location = urllib.parse.urlsplit(created["location"]).path
        offset = 0
        with path.open("rb") as f:
            while offset < size:
                data = f.read(CHUNK)
                answer, _ = client.send("PATCH", location, data, {
                    "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream"}, 204)
                offset = int(answer["upload-offset"])
        return answer["x-file-id"]
    finally:
        client.close()


def sdk_blocks(container: ContainerClient, data: bytes) -> None:
    blob = container.get_blob_client(f"bench/{uuid.uuid4()}")
    ids = [base64.b64encode(f"{n:010d}".encode()).decode()
           for n in range(-(-len(data) // CHUNK))]

    def stage(n: int) -> None:
        piece = data[n * CHUNK:(n + 1) * CHUNK]
        blob.stage_block(ids[n], piece, length=len(piece),
                         transactional_content_md5=hashlib.md5(piece).digest())

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(stage, range(len(ids))))
    blob.commit_block_list([BlobBlock(block_id) for block_id in ids])
    blob.delete_blob()


def run(bench: Bench) -> list[str]:
    host = bench.devhost(**{"AzureWebJobs.backup_new_blob.Disabled": "true",
                            "UPLOAD_BLOCK_SIZE": "8MB", "RESUMABLE_CHUNK_SIZE": "8MB",
                            "MAX_RESUMABLE_FILE_SIZE": "2GB"})
    container = bench.container()
    big = make_file(bench.data_dir / "resumable-1g.png", SIZE)
    small = make_file(bench.data_dir / "resumable-100m.png", SMALL)
    data = big.read_bytes()

    def owner() -> str:
        return bench.token(f"bench-{uuid.uuid4().hex[:10]}")

    try:
        median = interleaved(RUNS, {
            "spec": lambda _: spec_upload(host.url, owner(), big),
            "spec2": lambda _: spec_upload(host.url, owner(), big, parallel=2),
            "tus": lambda _: tus_upload(host.url, owner(), big),
            "sdk": lambda _: sdk_blocks(container, data),
        })
        data = b""  # the SDK's copy is not needed any more
        peaks = {}
        assert host.pid is not None
        for label, path in (("100 MiB", small), ("1 GiB", big)):
            with PeakRss(host.pid) as rss:
                tus_upload(host.url, owner(), path)
                spec_upload(host.url, owner(), path, parallel=2)
            peaks[label] = rss.peak
    finally:
        host.stop()

    def rate(seconds: float) -> str:
        return f"{SIZE / MiB / seconds:8.1f} MiB/s"

    return [
        f"Resumable upload of 1 GiB in 8 MiB chunks (median of {RUNS}, interleaved):",
        row("chunk protocol, one chunk at a time", rate(median["spec"])),
        row("chunk protocol, two chunks in flight", rate(median["spec2"])),
        row("tus, 8 MiB PATCHes", rate(median["tus"])),
        row("SDK stage_block+MD5 from memory, 2 in flight", rate(median["sdk"])),
        row("ratio chunk protocol (2 in flight) / SDK", f"{median['sdk'] / median['spec2']:14.2f}",
            "target >= 0.9"),
        row("ratio chunk protocol (sequential) / SDK", f"{median['sdk'] / median['spec']:14.2f}"),
        row("ratio tus / SDK", f"{median['sdk'] / median['tus']:14.2f}", "target >= 0.9"),
        row("devhost peak RSS, 100 MiB uploads", f"{peaks['100 MiB'] / MiB:9.1f} MiB"),
        row("devhost peak RSS, 1 GiB uploads", f"{peaks['1 GiB'] / MiB:9.1f} MiB",
            f"ratio {peaks['1 GiB'] / peaks['100 MiB']:.2f} (target within 10 %)"),
    ]
