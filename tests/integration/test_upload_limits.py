"""Upload limits through two devhosts sharing the session's real Redis (REDIS_URL): a user's
uploads per minute and uploads in progress are counted across instances, a slot of an
instance that died frees itself, and each instance admits uploads by the memory they need."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator

import httpx

from devhost.ports import free_ports
from shared.aio import close_loop_resources
from shared.limits.redis import RedisUserLimiter
from tests.integration import tus_helpers as tus
from tests.integration.helpers import assert_error, png
from tests.integration.resumable import init, send_all, session_of

UPLOAD = "/api/v1/storage/upload"
BOUNDARY = "slowb0undary"


def _send(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return client.post(UPLOAD, headers=headers, files={"file": ("a.png", png(), "image/png")})


def _slow_upload(client: httpx.Client, headers: dict[str, str], release: threading.Event,
                 statuses: list[int], *, length: int | None = None) -> threading.Thread:
    """An upload whose body stops half-way until ``release`` is set (declared length or
    chunked)."""
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"slow.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png(2048)
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        release.wait(30)
        yield tail

    extra = {"Content-Length": str(len(head) + len(tail))} if length is not None else {}
    thread = threading.Thread(target=lambda: statuses.append(client.post(
        UPLOAD, content=body(), headers={
            **headers, **extra, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    ).status_code))
    thread.start()
    return thread


def test_uploads_per_minute_are_counted_across_instances(devhost_with, auth_headers, user,
                                                         stores):
    a = devhost_with(MAX_USER_UPLOADS_PER_MINUTE="3", TEST_INSTANCE="a")
    b = devhost_with(MAX_USER_UPLOADS_PER_MINUTE="3", TEST_INSTANCE="b")
    h = auth_headers(user)
    assert [_send(c, h).status_code for c in (a, b, a)] == [201, 201, 201]
    before = stores.leftovers(user)
    refused = _send(b, h)
    body = assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
    assert body["details"]["user_uploads_per_minute"] == 3
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert stores.leftovers(user) == before  # nothing stored, nothing counted
    assert _send(a, auth_headers(f"{user}-other")).status_code == 201  # per user


def test_uploads_in_progress_are_counted_across_instances(devhost_with, auth_headers, user,
                                                          stores):
    a = devhost_with(MAX_USER_CONCURRENT_UPLOADS="1", TEST_INSTANCE="a")
    b = devhost_with(MAX_USER_CONCURRENT_UPLOADS="1", TEST_INSTANCE="b")
    h = auth_headers(user)
    release, statuses = threading.Event(), []
    slow = _slow_upload(a, h, release, statuses)
    try:
        time.sleep(2)  # a's upload holds the user's only slot
        refused = _send(b, h)
        body = assert_error(refused, 429, "RATE_LIMIT_EXCEEDED")
        assert body["details"]["user_concurrent_uploads"] == 1
        assert refused.headers["Retry-After"] == "1"
        assert _send(b, auth_headers(f"{user}-other")).status_code == 201
    finally:
        release.set()
        slow.join(30)
    assert statuses == [201]
    assert _send(b, h).status_code == 201  # the slot came back
    assert stores.leftovers(user).rows == 2


def test_a_slot_of_an_instance_that_died_frees_itself(stack):
    async def scenario() -> None:
        died, alive = RedisUserLimiter(stack.redis.url), RedisUserLimiter(stack.redis.url)
        take = {"max_concurrent": 1, "per_minute": None, "lease_seconds": 1.0}
        assert await died.acquire("lease-user", "held", **take) is None  # never released
        refusal = await alive.acquire("lease-user", "next", **take)
        assert refusal is not None and refusal.limit == "user_concurrent_uploads"
        await asyncio.sleep(1.2)
        assert await alive.acquire("lease-user", "next", **take) is None
        await alive.release("lease-user", "next")
        await close_loop_resources()  # the loop's Redis clients close with it

    asyncio.run(scenario())


def test_without_redis_the_limits_hold_in_process():
    async def scenario() -> None:
        port = free_ports(1)[0]  # nothing listens there
        unreachable = RedisUserLimiter(f"redis://127.0.0.1:{port}/0", timeout=0.5)
        take = {"max_concurrent": 1, "per_minute": None, "lease_seconds": 30.0}
        assert await unreachable.acquire("u", "a", **take) is None  # logged, counted here
        refusal = await unreachable.acquire("u", "b", **take)
        assert refusal is not None and refusal.limit == "user_concurrent_uploads"
        await unreachable.release("u", "a")
        assert await unreachable.acquire("u", "b", **take) is None
        await close_loop_resources()

    asyncio.run(scenario())


def test_memory_admits_many_small_uploads_and_bounds_a_large_one(devhost_with, auth_headers,
                                                                 user, stores):
    # 1 MiB blocks: an upload of unknown length may hold ~3.25 MiB, a small one ~0.25 MiB.
    limited = devhost_with(UPLOAD_MEMORY_BUDGET="3MB", MAX_USER_CONCURRENT_UPLOADS="20")
    h = auth_headers(user)
    release, statuses = threading.Event(), []
    small = [_slow_upload(limited, h, release, statuses, length=1) for _ in range(6)]
    try:
        time.sleep(1.5)  # six small uploads in flight (~1.5 MiB): all admitted
        big = limited.post(UPLOAD, headers={**h, "Content-Type": "multipart/form-data; "
                                            f"boundary={BOUNDARY}"},
                           content=iter([b"--" + BOUNDARY.encode() + b"--\r\n"]))
        body = assert_error(big, 429, "RATE_LIMIT_EXCEEDED")  # chunked: ~3.25 MiB more
        assert body["details"]["upload_memory_budget"] == 3 * 1024 * 1024
        assert big.headers["Retry-After"] == "1"
    finally:
        release.set()
        for thread in small:
            thread.join(30)
    assert statuses == [201] * 6
    assert stores.leftovers(user).rows == 6
    done, alone = threading.Event(), []
    done.set()
    _slow_upload(limited, h, done, alone).join(30)
    assert alone == [201]  # alone, an upload of unknown length passes


def test_resumable_sessions_count_once_and_their_chunks_hold_a_slot(devhost_with, auth_headers,
                                                                    user):
    """A session (chunk protocol or tus) is one upload in the minute; its chunks never count
    there, but each chunk in flight holds one of the user's slots."""
    api = devhost_with(MAX_USER_UPLOADS_PER_MINUTE="2", MAX_USER_CONCURRENT_UPLOADS="1",
                       TEST_INSTANCE="r")
    h = auth_headers(user)
    data = png(5 * 64 * 1024 + 100)
    session = session_of(init(api, h, len(data), chunk_size=64 * 1024))
    upload_path = tus.location(tus.create(api, h, 300 * 1024, filetype="image/png"))
    third = init(api, h, 1000)
    assert assert_error(third, 429, "RATE_LIMIT_EXCEEDED")["details"] == {
        "user_uploads_per_minute": 2, "retry_after_seconds": int(third.headers["Retry-After"])}
    assert int(third.headers["Retry-After"]) >= 1
    assert send_all(api, h, session, data).json()["file"]["size_bytes"] == len(data)

    hanging = tus.RawPatch(str(api.base_url), h, upload_path, 0, 300 * 1024)
    try:
        hanging.send(png(64 * 1024))
        time.sleep(1.5)  # the PATCH holds the user's only slot while its bytes come
        busy = api.post(UPLOAD, headers=h, files={"file": ("a.png", png(), "image/png")})
        body = assert_error(busy, 429, "RATE_LIMIT_EXCEEDED")
        assert body["details"]["user_concurrent_uploads"] == 1
        assert busy.headers["Retry-After"] == "1"
    finally:
        hanging.drop()
    # The slot comes back: the upload goes on from where it stopped (a PATCH is no new
    # upload, so the minute, used up, does not refuse it).
    def finish() -> int:
        at = tus.offset(api, h, upload_path)
        head = png(64 * 1024)[:max(64 * 1024 - at, 0)] if at == 0 else b""
        return tus.patch(api, h, upload_path, at,
                         head + os.urandom(300 * 1024 - at - len(head))).status_code

    deadline = time.monotonic() + 10
    while (code := finish()) in (423, 429) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert code == 204
