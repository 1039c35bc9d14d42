"""Single-shot upload of a 50 MiB file: through the API (devhost, multipart, streamed)
beside azure-storage-blob uploading the same bytes to the same Azurite; devhost memory."""

from __future__ import annotations

import base64
import hashlib
import http.client
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    # The backup trigger is switched off so that the figure is the upload path alone.
    host = bench.devhost(**{"AzureWebJobs.backup_new_blob.Disabled": "true"})
    container = bench.container()
    large = make_file(bench.data_dir / "upload-50m.png", SIZE)
    huge = make_file(bench.data_dir / "upload-200m.png", 4 * SIZE)
    data = large.read_bytes()
    try:
        median = interleaved(RUNS, {
            "api": lambda _: _api_upload(host.url, _fresh_owner(bench), large),
            "put": lambda _: _sdk_single_put(container, data),
            "blocks": lambda _: _sdk_streamed(container, large),
            "ceiling": lambda _: _sdk_blocks_with_md5(container, data),
        })
        peaks = {}
        for path in (large, huge):
            assert host.pid is not None
            with PeakRss(host.pid) as rss:
                _api_upload(host.url, _fresh_owner(bench), path)
            peaks[path] = rss.peak
    finally:
        host.stop()

    def rate(seconds: float) -> str:
        return f"{SIZE / MiB / seconds:8.1f} MiB/s"

    return [
        f"Upload of 50 MiB (median of {RUNS}, interleaved):",
        row("API POST /upload (multipart, streamed)", rate(median["api"])),
        row("SDK upload_blob(bytes): one Put Blob", rate(median["put"])),
        row("SDK upload_blob(iterator): staged blocks", rate(median["blocks"])),
        row("SDK stage_block+MD5 from memory (API's path)", rate(median["ceiling"])),
        row("ratio API / SDK one Put Blob", f"{median['put'] / median['api']:14.2f}",
            "target >= 0.8"),
        row("ratio API / SDK staged blocks", f"{median['blocks'] / median['api']:14.2f}"),
        row("ratio API / same blocks sent from memory",
            f"{median['ceiling'] / median['api']:14.2f}", "what the streaming costs"),
        row("devhost peak RSS, 50 MiB upload", f"{peaks[large] / MiB:9.1f} MiB"),
        row("devhost peak RSS, 200 MiB upload", f"{peaks[huge] / MiB:9.1f} MiB",
            "bounded by the block size, not the file size"),
    ]
