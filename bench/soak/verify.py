"""After the load: every file the service said it stored is there, intact, backed up, and
every user's quota equals what its files and open upload sessions hold."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import psycopg
from azure.storage.blob import BlobServiceClient
from psycopg.rows import dict_row

from bench.soak.workload import Stored


def _sql(url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def _digest(chunks: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(chunk)
    return sha.hexdigest()


def wait_for_backups(env: dict[str, str], ids: list[str], timeout: float,
                     stall: float = 60.0) -> list[dict[str, Any]]:
    """The backup rows of ``ids``, once none is pending or failed. The copies run behind the
    load (one instance, moto's S3): this waits as long as they keep completing, at most
    ``timeout`` seconds, and gives up after ``stall`` seconds without one more done."""
    started = time.monotonic()
    done_before, progressed = -1, started
    while True:
        rows = _sql(env["DATABASE_URL"],
                    "SELECT b.file_id::text AS file_id, b.file_path, b.state, b.checksum_sha256 "
                    "FROM file_backups b WHERE b.file_id = ANY(%s::uuid[])", (ids,))
        done = sum(row["state"] == "done" for row in rows)
        now = time.monotonic()
        if done == len(rows):
            return rows
        if done > done_before:
            done_before, progressed = done, now
        if now - started > timeout or now - progressed > stall:
            return rows
        time.sleep(1)


def check(env: dict[str, str], stored: dict[str, Stored], users: list[str],
          backup_timeout: float = 1800.0) -> dict[str, Any]:
    """Problems found (lists of strings per check) and the time each check took."""
    problems: dict[str, list[str]] = {"lost": [], "corrupted": [], "backup": [], "quota": []}
    ids = list(stored)
    rows = {row["id"]: row for row in _sql(
        env["DATABASE_URL"], "SELECT id::text AS id, file_path, size_bytes, checksum_sha256, "
        "deleted_at FROM files WHERE id = ANY(%s::uuid[])", (ids,))}
    container = BlobServiceClient.from_connection_string(
        env["AzureWebJobsStorage"]).get_container_client(env.get("AZURE_CONTAINER_NAME",
                                                                 "visiobook-files"))

    def primary(file_id: str) -> str | None:
        row, expected = rows.get(file_id), stored[file_id]
        if row is None or row["deleted_at"] is not None:
            return f"lost:{file_id}: no live row"
        if row["checksum_sha256"] != expected.sha256 or row["size_bytes"] != expected.size:
            return f"corrupted:{file_id}: row says {row['size_bytes']} {row['checksum_sha256']}"
        try:
            blob = container.download_blob(row["file_path"], max_concurrency=2)
        except Exception as exc:
            return f"lost:{file_id}: blob {row['file_path']}: {type(exc).__name__}"
        if _digest(blob.chunks()) != expected.sha256:
            return f"corrupted:{file_id}: blob bytes differ"
        return None

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        for problem in pool.map(primary, ids):
            if problem:
                kind, what = problem.split(":", 1)
                problems[kind].append(what)
    timings = {"primary_s": time.monotonic() - started}

    started = time.monotonic()
    backups = {row["file_id"]: row for row in wait_for_backups(env, ids, backup_timeout)}
    timings["backup_wait_s"] = time.monotonic() - started
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"],
                      region_name=env.get("AWS_REGION", "eu-west-1"),
                      aws_access_key_id="testing", aws_secret_access_key="testing")

    bucket = env.get("AWS_S3_BUCKET", "visiobook-backup")

    def backup(file_id: str) -> str | None:
        row = backups.get(file_id)
        if row is None or row["state"] != "done":
            return f"{file_id}: backup {row['state'] if row else 'missing'}"
        body = s3.get_object(Bucket=bucket, Key=row["file_path"])["Body"]
        if _digest(iter(lambda: body.read(1024 * 1024), b"")) != stored[file_id].sha256:
            return f"{file_id}: backup bytes differ"
        return None

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        problems["backup"] += [p for p in pool.map(backup, ids) if p]
    timings["backup_check_s"] = time.monotonic() - started

    usage = _sql(env["DATABASE_URL"], """
        SELECT u.user_id, u.used_bytes,
               coalesce((SELECT sum(size_bytes) FROM files f WHERE f.user_id = u.user_id), 0)
             + coalesce((SELECT sum(file_size) FROM upload_sessions s
                         WHERE s.user_id = u.user_id AND s.state = 'open'), 0) AS held
        FROM storage_usage u WHERE u.user_id = ANY(%s)""", (users,))
    problems["quota"] += [f"{row['user_id']}: used_bytes {row['used_bytes']} != {row['held']}"
                          for row in usage if row["used_bytes"] != row["held"]]
    return {"problems": problems, "timings": timings, "checked": len(ids)}
