"""MD5 and SHA-256 of a stream, computed off the event loop.

The hashing itself (``shared.crypto.hashstate.FileHashes``, OpenSSL's MD5 and SHA-256) releases
the GIL, so hashing in one worker thread overlaps with receiving and storing the next chunks.
A single thread keeps the updates in order. A resumable upload starts from a saved state.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from shared.crypto.hashstate import FileHashes

_MAX_PENDING = 8  # chunks queued for hashing before the producer waits


class Digests:
    def __init__(self, hashes: FileHashes | None = None) -> None:
        self._hashes = hashes or FileHashes()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")
        self._pending: deque[Future[None]] = deque()

    async def update(self, data: bytes) -> None:
        self._pending.append(self._executor.submit(self._hashes.update, data))
        while len(self._pending) > _MAX_PENDING:
            await asyncio.wrap_future(self._pending.popleft())

    async def finish(self) -> tuple[str, str, bytes]:
        """(md5 hex, sha256 hex, md5 raw bytes) of everything passed to ``update``."""
        try:
            while self._pending:
                await asyncio.wrap_future(self._pending.popleft())
        finally:
            self._executor.shutdown(wait=False)
        return self._hashes.digests()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
