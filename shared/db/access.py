"""Files' last access, recorded cheaply (tiering needs it to the hour, not to the request).

A read notes the file here instead of writing: nothing at all when its row already says it
was used within ``RESOLUTION``, otherwise the access waits in memory and one UPDATE writes
the whole batch a moment later (or at once when the batch is full). A range request of a
video, repeated hundreds of times, costs no write; a burst of reads of many files, one.
Per instance; an instance that stops loses at most its last moment of accesses, which shifts
a file's tiering by that moment.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from shared.db.repository import Database

log = logging.getLogger(__name__)
RESOLUTION = timedelta(hours=1)
FLUSH_AFTER_SECONDS = 1.0
MAX_BATCH = 500
MAX_PENDING = 20_000  # with the database down, older accesses are dropped past this


class AccessLog:
    def __init__(self, flush_after: float = FLUSH_AFTER_SECONDS) -> None:
        self._flush_after = flush_after
        self._pending: dict[str, datetime] = {}
        self._scheduled: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None
        self._tasks: set[asyncio.Task[int]] = set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def note(self, db: Database, file_id: str, at: datetime, last_known: datetime | None
             ) -> None:
        """An access to ``file_id`` at ``at``; ``last_known`` is its row's last access."""
        if last_known is not None and at - last_known < RESOLUTION:
            return
        earlier = self._pending.get(file_id)
        if earlier is not None and earlier >= at:
            return
        if earlier is None and len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))
        self._pending[file_id] = at
        self._schedule(db, 0 if len(self._pending) >= MAX_BATCH else self._flush_after)

    def _schedule(self, db: Database, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduled is not None:
            owner, handle = self._scheduled
            if owner is loop and not handle.cancelled() and delay:
                return  # a flush is already coming on this loop
            handle.cancel()  # sooner, or its loop is gone (tests run several in turn)

        def start() -> None:
            self._scheduled = None
            task = loop.create_task(self.flush(db))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._scheduled = (loop, loop.call_later(delay, start))

    async def flush(self, db: Database) -> int:
        """Write what is pending in one statement; the number of files written."""
        batch, self._pending = self._pending, {}
        if not batch:
            return 0
        try:
            async with db.connection() as repo:
                await repo.maintenance.record_access(batch)
        except Exception as exc:  # the database's errors are many; the next flush retries
            log.warning("recording the last access of %d files failed: %s", len(batch), exc)
            for file_id, at in batch.items():
                self._pending.setdefault(file_id, at)
            return 0
        return len(batch)
