"""In-process limits: the per-user ones when ``REDIS_URL`` is unset (one instance, or
limits per instance), and each instance's memory budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from shared.limits.base import Refusal

WINDOW_SECONDS = 60.0
_PRUNE_AT = 10_000  # users tracked before the ended windows and empty lease sets are dropped


class LocalUserLimiter:
    """The same rules as the Redis limiter, in a dict (no await inside: atomic on the loop)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._leases: dict[str, dict[str, float]] = {}        # user -> lease -> expiry
        self._windows: dict[str, tuple[float, int]] = {}       # user -> (window end, count)
        self._prune_at = _PRUNE_AT

    def _live(self, user_id: str, now: float) -> dict[str, float]:
        leases = self._leases.setdefault(user_id, {})
        for lease_id in [k for k, expiry in leases.items() if expiry <= now]:
            del leases[lease_id]
        return leases

    def _prune(self, now: float) -> None:
        """Bounded memory whatever the number of users: forget what no longer counts (when
        twice as many users are tracked as after the last pruning: amortised)."""
        if max(len(self._windows), len(self._leases)) <= self._prune_at:
            return
        self._windows = {u: w for u, w in self._windows.items() if w[0] > now}
        for user_id in list(self._leases):
            if not self._live(user_id, now):
                del self._leases[user_id]
        self._prune_at = max(_PRUNE_AT, 2 * max(len(self._windows), len(self._leases)))

    async def acquire(self, user_id: str, lease_id: str, *, max_concurrent: int,
                      per_minute: int | None, lease_seconds: float) -> Refusal | None:
        now = self._clock()
        self._prune(now)
        leases = self._live(user_id, now)
        if len(leases) >= max_concurrent:
            return Refusal("user_concurrent_uploads", max_concurrent, 1)
        if per_minute is not None:
            end, count = self._windows.get(user_id, (0.0, 0))
            if end <= now:
                end, count = now + WINDOW_SECONDS, 0
            if count >= per_minute:
                return Refusal("user_uploads_per_minute", per_minute,
                               max(1, math.ceil(end - now)))
            self._windows[user_id] = (end, count + 1)
        leases[lease_id] = now + lease_seconds
        return None

    async def renew(self, user_id: str, lease_id: str, lease_seconds: float) -> None:
        leases = self._leases.get(user_id, {})
        if lease_id in leases:
            leases[lease_id] = self._clock() + lease_seconds

    async def release(self, user_id: str, lease_id: str) -> None:
        leases = self._leases.get(user_id)
        if leases is not None:
            leases.pop(lease_id, None)
            if not leases:
                del self._leases[user_id]


class MemoryBudget:
    """Bytes that the uploads in progress in this instance may hold in memory, and their
    count. An upload that fits is admitted; one that does not is refused unless nothing is in
    flight (so that one upload larger than the budget still passes, alone)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.uploads = 0

    def take(self, need: int, budget: int, max_uploads: int) -> Refusal | None:
        if self.uploads >= max_uploads:
            return Refusal("max_concurrent_uploads", max_uploads, 1)
        if self.uploads and self.in_flight + need > budget:
            return Refusal("upload_memory_budget", budget, 1)
        self.in_flight += need
        self.uploads += 1
        return None

    def give_back(self, need: int) -> None:
        self.in_flight = max(self.in_flight - need, 0)
        self.uploads = max(self.uploads - 1, 0)
