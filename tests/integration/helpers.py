"""Helpers shared by the integration tests: test content, direct views of Azurite,
PostgreSQL and S3 (to check what a request left behind), and the error-body check."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
from azure.storage.blob import ContainerClient
from psycopg.rows import dict_row

PNG = b"\x89PNG\r\n\x1a\n"
# A PDF's header line, its first object and its trailer: what makes bytes a PDF.
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 0 >>\nstream\n"
PDF_END = b"\nendstream\nendobj\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"


def png(size: int = 4096) -> bytes:
    """Bytes that pass the PNG magic-number check, unique per call (no accidental 409)."""
    return PNG + os.urandom(max(size - len(PNG), 0))


def pdf(size: int = 2048) -> bytes:
    return PDF + os.urandom(max(size - len(PDF) - len(PDF_END), 0)) + PDF_END


def text(size: int = 1024) -> bytes:
    line = f"{uuid.uuid4()} la page scannée\n".encode()
    return (line * (size // len(line) + 1))[:size]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@dataclass
class Leftovers:
    """What one user holds in every store; compared before and after a refused request."""

    blobs: list[str]
    rows: int
    used_bytes: int


@dataclass
class Stores:
    container: ContainerClient
    s3: Any
    bucket: str
    database_url: str

    def sql(self, query: str, params: tuple | dict | None = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    _paths: dict[str, str] = field(default_factory=dict)

    def path_of(self, file_id: str) -> str:
        """Where a file's bytes are stored (responses show it to admins only); remembered, so
        that a test can still name the path once the row is gone."""
        if file_id not in self._paths:
            self._paths[file_id] = self.sql("SELECT file_path FROM files WHERE id = %s",
                                            (file_id,))[0]["file_path"]
        return self._paths[file_id]

    def blobs(self, prefix: str) -> list[str]:
        return sorted(b.name for b in self.container.list_blobs(name_starts_with=prefix))

    def blob_bytes(self, name: str) -> bytes:
        return self.container.download_blob(name).readall()

    def s3_bytes(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def leftovers(self, user: str) -> Leftovers:
        usage = self.sql("SELECT used_bytes FROM storage_usage WHERE user_id = %s", (user,))
        return Leftovers(
            blobs=self.blobs(f"users/{user}/"),
            rows=self.sql("SELECT count(*) AS n FROM files WHERE user_id = %s", (user,))[0]["n"],
            used_bytes=usage[0]["used_bytes"] if usage else 0,
        )



def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The specification's error body with the expected status and code."""
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["code"] == code, body
    assert set(body) >= {"code", "message", "details", "timestamp", "request_id"}
    return body


def health_when(api: httpx.Client, wait_for: Any, holds: Any, what: str) -> dict[str, Any]:
    """/health reuses its answer for a few seconds: wait for a fresh one where ``holds``."""
    wait_for(lambda: holds(api.get("/health").json()), what=what)
    return api.get("/health").json()
