"""Admitting one upload request: the instance's memory budget first (cheap, in-process),
then the user's limits (shared through Redis when configured); both are given back when the
request ends, and the user's slot is renewed while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import Enum

from shared.errors import ApiError, TooManyRequests
from shared.limits.base import Refusal, UserLimiter
from shared.limits.local import LocalUserLimiter, MemoryBudget
from shared.settings import Settings

# What an upload holds besides its blocks: multipart framing, hashing, an encryption frame.
_OVERHEAD = 256 * 1024
# Blocks one upload may hold at once (one filling, up to two being sent).
_BLOCKS_IN_FLIGHT = 3


class UploadKind(Enum):
    NEW = "new"      # a single-shot upload, or the creation of a resumable/tus session
    CHUNK = "chunk"  # bytes of a session already counted when it was created


@dataclass
class Admission:
    """The instance's admission state: its memory budget and the per-user limiter."""

    users: UserLimiter = field(default_factory=LocalUserLimiter)
    memory: MemoryBudget = field(default_factory=MemoryBudget)


def memory_need(settings: Settings, declared_length: int | None) -> int:
    """Bytes an upload of ``declared_length`` (None: unknown) may hold in memory."""
    most = _BLOCKS_IN_FLIGHT * settings.upload_block_size
    body = most if declared_length is None else min(max(declared_length, 0), most)
    return body + _OVERHEAD


def refused(refusal: Refusal) -> ApiError:
    return TooManyRequests(
        details={refusal.limit: refusal.allowed, "retry_after_seconds": refusal.retry_after},
        headers={"Retry-After": str(refusal.retry_after)})


async def _keep_alive(users: UserLimiter, user_id: str, lease_id: str, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds / 3)
        await users.renew(user_id, lease_id, seconds)


@contextlib.asynccontextmanager
async def admit_upload(admission: Admission, settings: Settings, user_id: str, *,
                       need: int, kind: UploadKind) -> AsyncIterator[None]:
    """Hold the upload's memory and the user's slot for the body of the ``async with``;
    429 ``RATE_LIMIT_EXCEEDED`` (with ``Retry-After``) when a limit is reached."""
    refusal = admission.memory.take(need, settings.upload_memory_budget,
                                    settings.max_concurrent_uploads)
    if refusal is not None:
        raise refused(refusal)
    lease_id = uuid.uuid4().hex
    lease_seconds = settings.upload_lease_seconds
    try:
        refusal = await admission.users.acquire(
            user_id, lease_id, max_concurrent=settings.max_user_concurrent_uploads,
            per_minute=settings.max_user_uploads_per_minute if kind is UploadKind.NEW
            else None, lease_seconds=lease_seconds)
    except BaseException:
        admission.memory.give_back(need)
        raise
    if refusal is not None:
        admission.memory.give_back(need)
        raise refused(refusal)
    renewer = asyncio.create_task(
        _keep_alive(admission.users, user_id, lease_id, lease_seconds))
    try:
        yield
    finally:
        renewer.cancel()
        admission.memory.give_back(need)
        await asyncio.shield(admission.users.release(user_id, lease_id))
