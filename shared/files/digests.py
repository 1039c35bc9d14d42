"""MD5 and SHA-256 of a stream, computed off the event loop.

hashlib releases the GIL on large buffers, so hashing in one worker thread overlaps with
receiving and storing the next chunks. A single thread keeps the updates in order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

_MAX_PENDING = 8  # chunks queued for hashing before the producer waits


class Digests:
    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")
        self._pending: deque[Future[None]] = deque()

    def _update(self, data: bytes) -> None:
        self._md5.update(data)
        self._sha256.update(data)

    async def update(self, data: bytes) -> None:
        self._pending.append(self._executor.submit(self._update, data))
        while len(self._pending) > _MAX_PENDING:
            await asyncio.wrap_future(self._pending.popleft())

    async def finish(self) -> tuple[str, str, bytes]:
        """(md5 hex, sha256 hex, md5 raw bytes) of everything passed to ``update``."""
        try:
            while self._pending:
                await asyncio.wrap_future(self._pending.popleft())
        finally:
            self._executor.shutdown(wait=False)
        return self._md5.hexdigest(), self._sha256.hexdigest(), self._md5.digest()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
