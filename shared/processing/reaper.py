"""The timer's pass over transformations nobody is running: a ``processing`` one whose worker
stopped beating (killed, its instance recycled) or a ``queued`` one whose message was lost
(the queue was down when it was asked for). Each is given back to the queue, or ended
``failed`` once it has been tried ``MAX_ATTEMPTS`` times (host.json's ``maxDequeueCount``):
none stays open for ever."""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.context import AppContext
from shared.processing.requests import enqueue

log = logging.getLogger(__name__)

REAP_AFTER = timedelta(minutes=5)  # the timer's own period: a full one without a sign of life
MAX_ATTEMPTS = 5
_BATCH = 100


async def reap_stale(ctx: AppContext) -> dict[str, int]:
    async with ctx.db.connection() as repo:
        stale = await repo.processing.stale(ctx.clock() - REAP_AFTER, _BATCH)
    counts = {"requeued": 0, "failed": 0}
    requeue: list[str] = []
    for row in stale:
        async with ctx.db.connection() as repo:
            if row["attempts"] >= MAX_ATTEMPTS:
                await repo.processing.finish(
                    row["id"], status="failed", error_code="TRANSFORMATION_FAILED",
                    error_message=f"no worker finished it in {row['attempts']} attempts")
                counts["failed"] += 1
            else:
                await repo.processing.requeue(row["id"])
                requeue.append(row["id"])
                counts["requeued"] += 1
    await enqueue(ctx, requeue)
    if stale:
        log.info("stale transformations: %s", counts)
    return counts
