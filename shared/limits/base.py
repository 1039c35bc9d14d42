"""What a per-user limiter answers, whichever store keeps its counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Refusal:
    """Why an upload was refused, and when to try again."""

    limit: str          # "user_concurrent_uploads" | "user_uploads_per_minute" | ...
    allowed: int
    retry_after: int    # whole seconds, at least 1


class UserLimiter(Protocol):
    async def acquire(self, user_id: str, lease_id: str, *, max_concurrent: int,
                      per_minute: int | None, lease_seconds: float) -> Refusal | None:
        """Take a slot for ``lease_id`` (and, when ``per_minute`` is given, count one new
        upload in the user's minute), or say why not. Nothing is taken on a refusal."""
        ...

    async def renew(self, user_id: str, lease_id: str, lease_seconds: float) -> None:
        """Keep the slot for another ``lease_seconds``."""
        ...

    async def release(self, user_id: str, lease_id: str) -> None: ...
