"""Upload sessions nobody finished: the timer ends those past ``expires_at`` (quota released,
staged blocks dropped where the store allows it; Azure discards uncommitted blocks a week
after the last one was staged on its own), and forgets ended sessions after a week, from
when they answer 404 instead of 410."""

from __future__ import annotations

from datetime import timedelta

from shared.context import AppContext
from shared.resumable.sessions import end_session

_BATCH = 100
ENDED_RETENTION = timedelta(days=7)


async def expire_sessions(ctx: AppContext) -> dict[str, int]:
    async with ctx.db.connection() as repo:
        ids = await repo.sessions.expired(ctx.clock(), _BATCH)
    expired = 0
    for session_id in ids:
        async with ctx.db.connection() as repo:
            row = await repo.sessions.get(session_id)
        if row is not None and await end_session(ctx, row, "expired", "expired"):
            expired += 1
    async with ctx.db.connection() as repo:
        forgotten = await repo.sessions.purge_ended(ctx.clock() - ENDED_RETENTION, _BATCH)
    return {"expired": expired, "forgotten": forgotten}
