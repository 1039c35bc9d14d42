"""``python -m bench scale``: listings of a user with 1,000,000 files (issue 11).

In a database of its own on the bench stack: migrations up to 0005, then COPY of the rows
(``SCALE_ROWS`` for one user, default 1,000,000, and ``SCALE_OTHER_ROWS`` spread over 100
other users, default 200,000), then migration 0006 on the seeded table (its indexes built
CONCURRENTLY, timed), VACUUM ANALYZE. Then through the API (devhost): p50 and p99 of every
listing case, with the plan of its query; and the upload time at that size beside an empty
database.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from bench import scale_plans
from bench.harness import Bench, row
from devhost.seed import RARE_PROJECT, seed_files, sync_usage
from shared.db.migrate import migrate
from shared.files import cursor
from shared.files.models import ListQuery
from shared.files.service import listing_for

HEAVY = "heavy-user"
RUNS = int(os.environ.get("SCALE_RUNS", "100"))
TARGET_P99_MS = 20.0

CASES: dict[str, dict[str, Any]] = {
    "default (created_at desc)": {},
    **{f"sort={key} order={order}": {"sort": key, "order": order}
       for key in ("created_at", "updated_at", "original_name", "size_bytes", "file_type",
                   "mime_type") for order in ("desc", "asc")},
    "page=1000 (offset 20,000)": {"page": 1000},
    "page=1000 limit=100 (offset 99,900)": {"page": 1000, "limit": 100},
    "cursor half-way (row 475,000)": {"cursor": "deep"},
    "project_id (2 % of files)": {"project_id": "proj-07"},
    "project_id (100 files)": {"project_id": RARE_PROJECT},
    "file_type=video": {"file_type": "video"},
    "file_type=video sort=size_bytes": {"file_type": "video", "sort": "size_bytes"},
    "project_id + file_type sort=original_name": {"project_id": "proj-07",
                                                   "file_type": "image",
                                                   "sort": "original_name"},
    "trashed=true": {"trashed": "true"},
    "trashed=true sort=original_name asc": {"trashed": "true", "sort": "original_name",
                                            "order": "asc"},
    "search one name (0123457)": {"search": "0123457"},
    "search common word (report)": {"search": "report"},
    "search tag (famille)": {"search": "famille"},
    "search description (équipe)": {"search": "équipe"},
    "search 2 letters, no match (zq)": {"search": "zq"},
    "search sort=size_bytes (invoice)": {"search": "invoice", "sort": "size_bytes"},
}


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def _progress(line: str) -> str:
    """Each figure as soon as it is known (stderr: a run of several minutes can be cut)."""
    print(line, file=sys.stderr, flush=True)
    return line


def _seed(url: str, rows: int, others: int) -> list[str]:
    out: list[str] = []
    migrate(url, until="0005_lifecycle_cdn")
    started = time.perf_counter()
    seed_files(url, HEAVY, rows)
    per_user = max(others // 100, 1) if others else 0
    for n in range(100 if others else 0):
        seed_files(url, f"user-{n:03d}", per_user)
    out.append(_progress(row("COPY of the rows", f"{time.perf_counter() - started:.0f} s",
                   f"{rows:,} for {HEAVY}, {per_user * 100 if others else 0:,} for 100 others")))
    started = time.perf_counter()
    done = migrate(url)
    out.append(_progress(row(f"migration {', '.join(done)} on them",
                             f"{time.perf_counter() - started:.0f} s",
                             "indexes built CONCURRENTLY, totals backfilled")))
    started = time.perf_counter()
    sync_usage(url)
    out.append(_progress(row("VACUUM ANALYZE", f"{time.perf_counter() - started:.0f} s")))
    return out


def _deep_cursor(url: str, query: ListQuery, position: int) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT id::text, created_at FROM files WHERE user_id = %s AND deleted_at IS NULL"
            " ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1", (HEAVY, position)).fetchone()
    assert found is not None
    return cursor.encode(query, {"id": found[0], "created_at": found[1]})


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1,
                                                   round(0.99 * (len(ordered) - 1)))]


def _measure(client: httpx.Client, path: str, params: dict[str, Any], runs: int
             ) -> tuple[float, float, dict[str, Any]]:
    body: dict[str, Any] = {}
    for _ in range(5):  # warm: pooled connections, prepared statements
        response = client.get(path, params=params)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{params}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return (*_percentiles(samples), body)


@contextmanager
def _client(bench: Bench, url: str, sub: str, role: str) -> Iterator[httpx.Client]:
    host = bench.devhost(DATABASE_URL=url)
    try:
        with httpx.Client(base_url=host.url, timeout=60, headers={
                "Authorization": f"Bearer {bench.token(sub, role)}"}) as client:
            yield client
    finally:
        host.stop()


def _listings(bench: Bench, url: str, rows: int) -> list[str]:
    live = int(rows * 0.95)
    out = [f"  {'case':<44} {'p50 ms':>7} {'p99 ms':>7}  total (estimate?)  plan"]
    over = []
    with _client(bench, url, HEAVY, "user") as client:
        for name, params in CASES.items():
            query = ListQuery.model_validate(
                {k: v for k, v in params.items() if k != "cursor"})
            if params.get("cursor") == "deep":
                params = {**params, "cursor": _deep_cursor(url, query, live // 2)}
                query = ListQuery.model_validate(params)
            p50, p99, body = _measure(client, "/api/v1/storage/files", params, RUNS)
            nodes, ms, seq = scale_plans.plan(url, listing_for(HEAVY, query))
            page = body["pagination"]
            mark = " " if p99 <= TARGET_P99_MS else "!"
            if p99 > TARGET_P99_MS:
                over.append(name)
            out.append(_progress(
                f" {mark}{name:<44} {p50:7.1f} {p99:7.1f}  {page['total']:>9,}"
                f" {'~' if page['total_is_estimate'] else ' '}      "
                f"{ms:.2f} ms in SQL{'  SEQ SCAN' if seq else ''}"))
            out += [f"      {line}" for line in nodes]
    with _client(bench, url, "bench-admin", "admin") as client:
        for name, owner in (("admin: user_id of a user with 2,000 files", "user-042"),
                            ("admin: user_id of the heavy user", HEAVY)):
            p50, p99, body = _measure(client, "/api/v1/storage/files", {"user_id": owner},
                                      RUNS)
            if p99 > TARGET_P99_MS:
                over.append(name)
            out.append(_progress(f" {' ' if p99 <= TARGET_P99_MS else '!'}{name:<44} {p50:7.1f}"
                                 f" {p99:7.1f}  {body['pagination']['total']:>9,}"))
    out.append(f"  p99 over {TARGET_P99_MS:.0f} ms (!): {', '.join(over) if over else 'none'}")
    return out


def _uploads(bench: Bench, url: str, label: str, runs: int = 30) -> str:
    samples = []
    # as an admin (no quota): the seeded sizes add up to more than any quota
    with _client(bench, url, HEAVY, "admin") as client:
        for n in range(runs + 3):
            content = f"scale bench upload {label} {n} {time.time_ns()}".encode()
            started = time.perf_counter()
            response = client.post("/api/v1/storage/upload",
                                   files={"file": (f"up-{n}.txt", content, "text/plain")})
            if response.status_code != 201:
                raise RuntimeError(f"upload: {response.status_code} {response.text[:300]}")
            if n >= 3:
                samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = _percentiles(samples)
    return row(f"upload of a small file, {label}", f"p50 {p50:.0f} ms", f"p99 {p99:.0f} ms")


def run(bench: Bench) -> list[str]:
    rows = int(os.environ.get("SCALE_ROWS", "1000000"))
    others = int(os.environ.get("SCALE_OTHER_ROWS", "200000"))
    base = bench.env["DATABASE_URL"]
    url = _database(base, "scale")
    out = [f"Listings at scale ({rows:,} files for one user; p99 target {TARGET_P99_MS:.0f} ms,"
           f" {RUNS} requests per case through the API)"]
    out += _seed(url, rows, others)
    out += _listings(bench, url, rows)
    empty = _database(base, "scale_empty")
    migrate(empty)
    out.append(_progress(_uploads(bench, empty, "empty database")))
    out.append(_progress(_uploads(bench, url, f"{rows:,} files")))
    return out
