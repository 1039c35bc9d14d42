"""The in-process limits (no REDIS_URL): per-user slots and minute, leases that run out,
and each instance's memory budget, through ``admit_upload`` as the upload paths use it."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import TooManyRequests
from shared.limits import Admission, LocalUserLimiter, MemoryBudget, UploadKind, admit_upload
from shared.limits.admission import memory_need
from tests.fakes.context import fake_context

pytestmark = pytest.mark.anyio
KiB, MiB = 1024, 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_user_has_a_number_of_slots_and_a_freed_slot_comes_back() -> None:
    limiter = LocalUserLimiter()
    take = {"max_concurrent": 2, "per_minute": None, "lease_seconds": 60}
    assert await limiter.acquire("alice", "a", **take) is None
    assert await limiter.acquire("alice", "b", **take) is None
    refusal = await limiter.acquire("alice", "c", **take)
    assert refusal is not None and refusal.limit == "user_concurrent_uploads"
    assert await limiter.acquire("bob", "d", **take) is None  # another user's slots
    await limiter.release("alice", "a")
    assert await limiter.acquire("alice", "c", **take) is None


async def test_the_minute_counts_new_uploads_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = LocalUserLimiter(clock)
    for n in range(3):
        assert await limiter.acquire("alice", f"l{n}", max_concurrent=10, per_minute=3,
                                     lease_seconds=60) is None
    clock.now += 20
    refusal = await limiter.acquire("alice", "x", max_concurrent=10, per_minute=3,
                                    lease_seconds=60)
    assert refusal is not None and refusal.limit == "user_uploads_per_minute"
    assert refusal.retry_after == 40
    # chunks of sessions already counted are not refused by the minute
    assert await limiter.acquire("alice", "chunk", max_concurrent=10, per_minute=None,
                                 lease_seconds=60) is None
    clock.now += 41
    assert await limiter.acquire("alice", "y", max_concurrent=10, per_minute=3,
                                 lease_seconds=60) is None


async def test_a_lease_nobody_renews_runs_out() -> None:
    clock = Clock()
    limiter = LocalUserLimiter(clock)
    assert await limiter.acquire("alice", "dead", max_concurrent=1, per_minute=None,
                                 lease_seconds=10) is None
    clock.now += 5
    await limiter.renew("alice", "dead", 10)
    clock.now += 9
    assert await limiter.acquire("alice", "next", max_concurrent=1, per_minute=None,
                                 lease_seconds=10) is not None  # renewed: still held
    clock.now += 2
    assert await limiter.acquire("alice", "next", max_concurrent=1, per_minute=None,
                                 lease_seconds=10) is None


def test_memory_admits_many_small_uploads_and_bounds_large_ones() -> None:
    budget = MemoryBudget()
    for _ in range(40):
        assert budget.take(200 * KiB, 10 * MiB, 100) is None
    big = budget.take(24 * MiB, 10 * MiB, 100)
    assert big is not None and big.limit == "upload_memory_budget"
    for _ in range(40):
        budget.give_back(200 * KiB)
    assert budget.in_flight == 0
    assert budget.take(24 * MiB, 10 * MiB, 100) is None  # alone, even a large one passes
    assert budget.take(KiB, 10 * MiB, 100) is not None
    assert budget.take(KiB, 10 * MiB, 1).limit == "max_concurrent_uploads"  # type: ignore[union-attr]


def test_an_upload_needs_its_length_at_most_three_blocks() -> None:
    settings = fake_context(upload_block_size=MiB).settings
    assert memory_need(settings, 10 * KiB) < memory_need(settings, 2 * MiB)
    assert memory_need(settings, None) == memory_need(settings, 50 * MiB)
    assert memory_need(settings, None) < 4 * MiB


async def test_admission_gives_everything_back_and_refuses_with_retry_after() -> None:
    ctx = fake_context(max_user_concurrent_uploads=1, max_user_uploads_per_minute=2,
                       upload_lease_seconds=3)
    admission = Admission()

    async def one(kind: UploadKind = UploadKind.NEW) -> None:
        async with admit_upload(admission, ctx.settings, "alice", need=KiB, kind=kind):
            pass

    async with admit_upload(admission, ctx.settings, "alice", need=KiB, kind=UploadKind.NEW):
        with pytest.raises(TooManyRequests) as busy:
            await one()
        assert busy.value.headers == {"Retry-After": "1"}
        assert busy.value.details["user_concurrent_uploads"] == 1
        assert admission.memory.in_flight == KiB  # the refused one gave its memory back
    await one()
    with pytest.raises(TooManyRequests) as minute:
        await one()
    assert minute.value.details["user_uploads_per_minute"] == 2
    assert int(minute.value.headers["Retry-After"]) > 50
    await one(UploadKind.CHUNK)  # a session's chunks pass
    assert admission.memory.in_flight == 0 and admission.memory.uploads == 0


async def test_a_long_upload_keeps_its_slot_by_renewing_it() -> None:
    ctx = fake_context(max_user_concurrent_uploads=1, upload_lease_seconds=3)
    admission = Admission()
    async with admit_upload(admission, ctx.settings, "alice", need=KiB, kind=UploadKind.CHUNK):
        await asyncio.sleep(4)  # past the lease: renewed every second
        with pytest.raises(TooManyRequests):
            async with admit_upload(admission, ctx.settings, "alice", need=KiB,
                                    kind=UploadKind.CHUNK):
                pass


async def test_the_in_process_counts_stay_bounded_whatever_the_number_of_users() -> None:
    clock = Clock()
    limiter = LocalUserLimiter(clock)
    for n in range(60_000):  # 5,000 new users a minute, for twelve minutes
        if n % 5_000 == 0:
            clock.now += 61
        await limiter.acquire(f"user-{n}", "l", max_concurrent=1, per_minute=5,
                              lease_seconds=10)
        assert len(limiter._windows) <= 20_002 and len(limiter._leases) <= 20_002
