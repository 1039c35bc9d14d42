"""1 MiB range reads through /stream beside azure-storage-blob's ranged reads of the same
blob on the same Azurite; then the same through an encrypted file (framed AES-GCM)."""

from __future__ import annotations

import base64
import os
import random
import uuid
from pathlib import Path
from typing import Any

import httpx
from azure.storage.blob import BlobClient

from bench.harness import Bench, MiB, interleaved, make_file, row

FILE_SIZE = 64 * MiB
READ = MiB
READS = 40  # per run
RUNS = 5


def _offsets(seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(0, FILE_SIZE - READ) for _ in range(READS)]


def _upload(client: httpx.Client, token: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as body:
        response = client.post("/api/v1/storage/upload",
                               headers={"Authorization": f"Bearer {token}"},
                               files={"file": (path.name, body, "video/mp4")})
    response.raise_for_status()
    file: dict[str, Any] = response.json()["file"]
    return file


def _api_reads(client: httpx.Client, token: str, file_id: str, seed: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for offset in _offsets(seed):
        response = client.get(f"/api/v1/storage/stream/{file_id}",
                              headers={**headers, "Range": f"bytes={offset}-{offset + READ - 1}"})
        assert response.status_code == 206 and len(response.content) == READ


def _sdk_reads(blob: BlobClient, seed: int) -> None:
    for offset in _offsets(seed):
        assert len(blob.download_blob(offset=offset, length=READ).readall()) == READ


def run(bench: Bench) -> list[str]:
    source = make_file(bench.data_dir / "stream.mp4", FILE_SIZE,
                       header=b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
    key = base64.b64encode(os.urandom(32)).decode()
    off = {"AzureWebJobs.backup_new_blob.Disabled": "true"}
    plain_host, sealed_host = bench.devhost(**off), bench.devhost(ENCRYPTION_KEY=key, **off)
    token = bench.token(f"bench-{uuid.uuid4().hex[:8]}")
    other = bench.token(f"bench-{uuid.uuid4().hex[:8]}")
    try:
        with httpx.Client(base_url=plain_host.url, timeout=120) as plain, \
                httpx.Client(base_url=sealed_host.url, timeout=120) as sealed:
            plain_file = _upload(plain, token, source)
            sealed_file = _upload(sealed, other, source)
            blob = bench.container().get_blob_client(plain_file["file_path"])
            median = interleaved(RUNS, {
                "api": lambda n: _api_reads(plain, token, plain_file["id"], n),
                "sdk": lambda n: _sdk_reads(blob, n),
                "sealed": lambda n: _api_reads(sealed, other, sealed_file["id"], n),
            })
    finally:
        plain_host.stop()
        sealed_host.stop()

    def rate(seconds: float) -> str:
        return f"{READS / seconds:9.1f} reads/s"

    return [
        f"Range reads of 1 MiB at random offsets of a 64 MiB file "
        f"({READS} per run, median of {RUNS}, interleaved):",
        row("API GET /stream (Range), plain file", rate(median["api"])),
        row("SDK download_blob(offset, length)", rate(median["sdk"])),
        row("API GET /stream (Range), encrypted file", rate(median["sealed"])),
        row("ratio API / SDK", f"{median['sdk'] / median['api']:14.2f}", "target >= 0.7"),
        row("ratio encrypted / plain", f"{median['api'] / median['sealed']:14.2f}",
            "target >= 0.8"),
    ]
