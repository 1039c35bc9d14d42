"""Single-shot upload of a 50 MiB file: through the API (devhost, multipart, streamed)
beside azure-storage-blob uploading the same bytes to the same Azurite; devhost memory."""

from __future__ import annotations

import base64
import hashlib
import http.client
import shutil
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from azure.storage.blob import BlobBlock, ContainerClient

from bench.harness import Bench, MiB, PeakRss, interleaved, make_file, row

SIZE = 50 * MiB
RUNS = 5


def _multipart(path: Path, boundary: str) -> tuple[bytes, bytes]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{path.name}\"\r\nContent-Type: image/png\r\n\r\n").encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def _api_upload(url: str, token: str, path: Path) -> None:
    """A multipart upload streamed from disk in 1 MiB writes (http.client: a Python client
    that is not itself the bottleneck, unlike httpx's 64 KiB multipart writer)."""
    boundary = uuid.uuid4().hex
    head, tail = _multipart(path, boundary)

    def body():
        yield head
        with path.open("rb") as f:
            while block := f.read(MiB):
                yield block
        yield tail

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=300,
                                      blocksize=MiB)
    try:
        conn.request("POST", "/api/v1/storage/upload", body=body(), headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        })
        response = conn.getresponse()
        payload = response.read()
        if response.status != 201:
            raise RuntimeError(f"upload answered {response.status}: {payload[:300]!r}")
    finally:
        conn.close()


def _curl_upload(url: str, token: str, path: Path) -> None:
    """What a user does: curl -F (it sends Expect: 100-continue, in 64 KiB writes)."""
    done = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
         f"Authorization: Bearer {token}", "-F", f"file=@{path};type=image/png",
         f"{url}/api/v1/storage/upload"], capture_output=True, text=True, timeout=300)
    if done.stdout != "201":
        raise RuntimeError(f"curl upload answered {done.stdout}: {done.stderr[:300]}")


def _backups_settled(database_url: str, timeout: float = 120.0) -> None:
    """Wait until no backup copy is pending (the previous upload's copy has finished)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM file_backups WHERE state = 'pending'").fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.1)
    raise RuntimeError("backup copies still pending")


def _sdk_single_put(container: ContainerClient, data: bytes) -> None:
    container.upload_blob(f"bench/{uuid.uuid4()}", data)


def _sdk_streamed(container: ContainerClient, path: Path) -> None:
    # A stream of unknown length: the SDK stages blocks and commits them, as the API must.
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as f:
            while block := f.read(4 * MiB):
                yield block
    container.upload_blob(f"bench/{uuid.uuid4()}", chunks())


def _sdk_blocks_with_md5(container: ContainerClient, data: bytes) -> None:
    """The API's write path done directly from memory: 8 MiB blocks, each with its MD5,
    two in flight, then the block list. The ceiling of any staged upload on this Azurite."""
    blob = container.get_blob_client(f"bench/{uuid.uuid4()}")
    block = 8 * MiB
    ids = [base64.b64encode(f"{n:010d}".encode()).decode()
           for n in range((len(data) + block - 1) // block)]

    def stage(n: int) -> None:
        piece = data[n * block:(n + 1) * block]
        blob.stage_block(ids[n], piece, length=len(piece),
                         transactional_content_md5=hashlib.md5(piece).digest())

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(stage, range(len(ids))))
    blob.commit_block_list([BlobBlock(block_id) for block_id in ids])


def _fresh_owner(bench: Bench) -> str:
    # A new owner each time: the same bytes twice for one owner would be a duplicate (409).
    return bench.token(f"bench-{uuid.uuid4().hex[:10]}")


def run(bench: Bench) -> list[str]:
    # As `make run` serves it (the backup copy on, in the same process), through curl as a
    # user would, each upload timed from the client's start to its answer; and the upload
    # path alone (backup off, a Python client), the figure this benchmark used to give.
    served = bench.devhost()
    host = bench.devhost(**{"AzureWebJobs.backup_new_blob.Disabled": "true"})
    container = bench.container()
    large = make_file(bench.data_dir / "upload-50m.png", SIZE)
    huge = make_file(bench.data_dir / "upload-200m.png", 4 * SIZE)
    data = large.read_bytes()
    database = bench.env["DATABASE_URL"]
    has_curl = shutil.which("curl") is not None

    def curl_settled(_: int) -> None:
        _backups_settled(database)  # not timed: the previous upload's copy is done
        started = time.perf_counter()
        _curl_upload(served.url, _fresh_owner(bench), large)
        client_seen.append(time.perf_counter() - started)

    client_seen: list[float] = []
    try:
        actions: dict[str, Callable[[int], object]] = {
            "api": lambda _: _api_upload(host.url, _fresh_owner(bench), large),
            "put": lambda _: _sdk_single_put(container, data),
            "blocks": lambda _: _sdk_streamed(container, large),
            "ceiling": lambda _: _sdk_blocks_with_md5(container, data),
        }
        if has_curl:
            actions["curl_busy"] = lambda _: _curl_upload(served.url, _fresh_owner(bench), large)
            actions["curl"] = curl_settled
        median = interleaved(RUNS, actions)
        if has_curl:
            median["curl"] = sorted(client_seen)[len(client_seen) // 2]
        peaks = {}
        for path in (large, huge):
            assert host.pid is not None
            with PeakRss(host.pid) as rss:
                _api_upload(host.url, _fresh_owner(bench), path)
            peaks[path] = rss.peak
    finally:
        host.stop()
        served.stop()

    def rate(seconds: float) -> str:
        return f"{SIZE / MiB / seconds:8.1f} MiB/s"

    lines = [f"Upload of 50 MiB (median of {RUNS}, interleaved):"]
    if has_curl:
        lines += [
            row("curl -F, backup on, previous copy finished", rate(median["curl"])),
            row("curl -F, backup on, back to back", rate(median["curl_busy"]),
                "the previous upload's copy runs meanwhile"),
        ]
    lines += [
        row("API POST /upload, backup off (http.client)", rate(median["api"])),
        row("SDK upload_blob(bytes): one Put Blob", rate(median["put"])),
        row("SDK upload_blob(iterator): staged blocks", rate(median["blocks"])),
        row("SDK stage_block+MD5 from memory (API's path)", rate(median["ceiling"])),
    ]
    if has_curl:
        lines += [
            row("ratio curl (backup on) / SDK one Put Blob",
                f"{median['put'] / median['curl']:14.2f}", "target >= 0.8: what a user sees"),
            row("ratio curl back to back / SDK one Put Blob",
                f"{median['put'] / median['curl_busy']:14.2f}"),
        ]
    lines += [
        row("ratio API (backup off) / SDK one Put Blob", f"{median['put'] / median['api']:14.2f}"),
        row("ratio API / SDK staged blocks", f"{median['blocks'] / median['api']:14.2f}"),
        row("ratio API / same blocks sent from memory",
            f"{median['ceiling'] / median['api']:14.2f}", "what the streaming costs"),
        row("devhost peak RSS, 50 MiB upload", f"{peaks[large] / MiB:9.1f} MiB"),
        row("devhost peak RSS, 200 MiB upload", f"{peaks[huge] / MiB:9.1f} MiB",
            "bounded by the block size, not the file size"),
    ]
    return lines
