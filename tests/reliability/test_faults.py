"""Faults during traffic, on a stack of this module's own: PostgreSQL stopped and started
again, Azurite restarted, the backup store (moto) down, the devhost killed with SIGKILL in the
middle of an upload, and the database pool exhausted. The app is never restarted to recover
(except where it is the one killed)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.integration.helpers import assert_error, png
from tests.reliability.conftest import OwnStack, until

API = "/api/v1/storage"
KiB = 1024
POOL_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def faults(own_stack) -> OwnStack:
    # A small pool that gives up quickly, and the timer every 5 s (backups catch up).
    return own_stack(DB_POOL_MAX="3", DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
                     LIFECYCLE_SCHEDULE="*/5 * * * * *")


@pytest.fixture
def api(faults: OwnStack) -> Iterator[httpx.Client]:
    with faults.client() as client:
        yield client


def upload(api: httpx.Client, headers: dict[str, str], data: bytes) -> httpx.Response:
    return api.post(f"{API}/upload", headers=headers,
                    files={"file": ("f.png", data, "image/png")})


def timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


class Traffic:
    """Listings in a thread for as long as the block runs: every status and duration."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.answers: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    response, took = timed(lambda: client.get(f"{API}/files",
                                                              headers=self.headers))
                    self.answers.append((response.status_code, took))
                except httpx.HTTPError:
                    self.answers.append((0, 0.0))
                time.sleep(0.1)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(90)

    @property
    def statuses(self) -> set[int]:
        return {status for status, _ in self.answers}

    @property
    def slowest(self) -> float:
        return max(took for _, took in self.answers)


def health(api: httpx.Client) -> tuple[int, dict]:
    response = api.get("/health")
    return response.status_code, response.json()


def test_postgres_stopped_then_started_answers_503_then_recovers(faults, api, user):
    headers = faults.headers(user)
    pid = faults.host.pid
    assert upload(api, headers, png(3 * KiB)).status_code == 201
    with Traffic(faults.host.url, headers) as traffic:
        time.sleep(1)
        faults.stack.postgres.stop()
        try:
            response, took = timed(lambda: api.get(f"{API}/files", headers=headers))
            assert_error(response, 503, "SERVICE_UNAVAILABLE")
            assert response.headers["retry-after"].isdigit()
            assert took < POOL_TIMEOUT + 5
            refused, took = timed(lambda: upload(api, headers, png(200 * KiB)))
            assert_error(refused, 503, "SERVICE_UNAVAILABLE")
            assert took < POOL_TIMEOUT + 5
            _, body = until(lambda: (lambda h: h if h[0] == 503 else None)(health(api)),
                                 30, "/health answers 503")
            assert body["checks"]["database"]["status"] == "DOWN"
            time.sleep(2)  # traffic while it is down
        finally:
            faults.stack.postgres.start()
        until(lambda: api.get(f"{API}/files", headers=headers).status_code == 200, 30,
              "listings answer 200 again")
        time.sleep(1)
    assert faults.host.pid == pid  # recovered without a restart
    assert traffic.statuses <= {200, 503}, traffic.answers
    assert {200, 503} <= traffic.statuses
    assert traffic.slowest < POOL_TIMEOUT + 8, traffic.answers
    stores = faults.stores()
    assert stores.leftovers(user).rows == 1 and len(stores.leftovers(user).blobs) == 1
    assert upload(api, headers, png(4 * KiB)).status_code == 201
    until(lambda: health(api)[0] == 200, 30, "/health answers 200 again")


def test_azurite_restarted_answers_the_spec_error_then_recovers(faults, api, user):
    headers = faults.headers(user)
    kept = png(5 * KiB)
    file_id = upload(api, headers, kept).json()["file"]["id"]
    faults.stack.azurite.stop()
    try:
        refused, took = timed(lambda: upload(api, headers, png(50 * KiB)))
        assert refused.status_code in {502, 503}, refused.text
        assert_error(refused, refused.status_code,
                     "STORAGE_BACKEND_ERROR" if refused.status_code == 502
                     else "SERVICE_UNAVAILABLE")
        assert took < 30
        read, took = timed(lambda: api.get(f"{API}/stream/{file_id}", headers=headers))
        assert read.status_code in {502, 503} and "error" in read.json(), read.text
        assert took < 30
        until(lambda: health(api)[0] == 503, 30, "/health answers 503")
    finally:
        faults.stack.azurite.start()
    until(lambda: upload(api, headers, png(6 * KiB)).status_code == 201, 30,
          "uploads succeed again")
    stream = api.get(f"{API}/stream/{file_id}", headers=headers)
    assert stream.status_code == 200 and stream.content == kept
    left = faults.stores().leftovers(user)
    assert left.rows == 2 and len(left.blobs) == 2 and left.used_bytes == 11 * KiB


def test_backup_store_down_degrades_then_catches_up(faults, api, user):
    headers = faults.headers(user)
    faults.stack.s3.stop()
    try:
        sent = [png(7 * KiB + n) for n in range(3)]
        ids = [upload(api, headers, data) for data in sent]
        assert [response.status_code for response in ids] == [201] * 3
        status, _ = until(lambda: (lambda h: h if h[1]["status"] == "DEGRADED" else None)(
            health(api)), 30, "/health says DEGRADED")
        assert status == 200
        stores = faults.stores()
        until(lambda: {row["state"] for row in stores.sql(
            "SELECT state FROM file_backups b JOIN files f ON f.file_path = b.file_path"
            " WHERE f.user_id = %s", (user,))} == {"failed"}, 30, "the copies failed")
    finally:
        faults.stack.s3.start()
    faults.stack.provision(faults.env)  # moto keeps nothing: the bucket is made again
    # As if their back-off had passed: the timer (every 5 s) copies them.
    stores.sql("UPDATE file_backups SET updated_at = now() - interval '10 minutes'"
               " WHERE file_path IN (SELECT file_path FROM files WHERE user_id = %s)", (user,))
    until(lambda: {row["state"] for row in stores.sql(
        "SELECT state FROM file_backups b JOIN files f ON f.file_path = b.file_path"
        " WHERE f.user_id = %s", (user,))} == {"done"}, 60, "the backup caught up")
    for response, data in zip(ids, sent, strict=True):
        path = stores.path_of(response.json()["file"]["id"])
        assert hashlib.sha256(stores.s3_bytes(path)).digest() == hashlib.sha256(data).digest()
    until(lambda: health(api)[1]["status"] == "UP", 30, "/health says UP")


def test_devhost_killed_during_a_single_shot_upload_leaves_nothing(faults, user):
    headers = faults.headers(user)
    data = png(2 * 1024 * KiB)
    boundary = "soakboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"k.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    sent = threading.Event()

    def trickle() -> Iterator[bytes]:
        yield head
        for start in range(0, len(data), 64 * KiB):
            if start >= 1024 * KiB:
                sent.set()
                time.sleep(0.2)
            yield data[start:start + 64 * KiB]
        yield tail

    def send() -> None:
        with httpx.Client(base_url=faults.host.url, timeout=60) as client, \
                contextlib.suppress(httpx.HTTPError):  # cut by the kill
            client.post(f"{API}/upload", content=trickle(), headers={
                **headers, "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + len(data) + len(tail))})

    thread = threading.Thread(target=send)
    thread.start()
    assert sent.wait(30)
    time.sleep(0.5)  # a few blocks staged
    assert faults.host.pid is not None
    os.kill(faults.host.pid, signal.SIGKILL)
    faults.host.wait(10)
    thread.join(30)
    faults.host.stop()  # forgets the killed process (its group is gone too)
    faults.host.start()
    left = faults.stores().leftovers(user)
    assert (left.rows, left.blobs, left.used_bytes) == (0, [], 0)
    with faults.client() as api:
        assert upload(api, headers, data).status_code == 201  # the same bytes: no duplicate
        assert faults.stores().leftovers(user).used_bytes == len(data)


def test_an_exhausted_pool_answers_503_with_retry_after_not_a_hang(faults, api, user):
    headers = faults.headers(user)
    assert upload(api, headers, png(2 * KiB)).status_code == 201
    answers: list[int] = []
    with psycopg.connect(faults.env["DATABASE_URL"]) as blocker:
        blocker.execute("LOCK TABLE files IN ACCESS EXCLUSIVE MODE")  # held until the end

        def stuck() -> None:
            with faults.client() as client:
                answers.append(client.get(f"{API}/files", headers=headers).status_code)

        holders = [threading.Thread(target=stuck) for _ in range(3)]  # the pool's 3
        for holder in holders:
            holder.start()
        time.sleep(1.5)
        response, took = timed(lambda: api.get(f"{API}/files", headers=headers))
        assert_error(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["retry-after"].isdigit()
        assert took < POOL_TIMEOUT + 3
        blocker.rollback()  # the lock goes: the held requests finish
    for holder in holders:
        holder.join(30)
    assert answers == [200, 200, 200]
    assert api.get(f"{API}/files", headers=headers).status_code == 200
