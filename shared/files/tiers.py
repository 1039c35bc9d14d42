"""Storage tiers by last use: the timer moves each live file to the tier its idle time calls
for (hot -> cool -> cold -> archive after ``TIER_*_AFTER_DAYS``, and back to hot when it is
read again), through the store's ``set_tier``, and records it on the row so that
``storage_tier`` stays true.

An archived file cannot be read: reading it starts its rehydration and answers 202 with
``Retry-After``. Whether it is done is read from the store (Azure takes hours, Azurite no time
at all); a later read, or the timer, sees it done and records the new tier.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from shared.context import AppContext
from shared.db import Row
from shared.db.maintenance import TierThresholds
from shared.errors import Rehydrating
from shared.settings import Settings
from shared.storage import ObjectNotFound, Tier

log = logging.getLogger(__name__)
BATCH = 200


def thresholds(now: datetime, settings: Settings) -> TierThresholds:
    return TierThresholds(cool=now - timedelta(days=settings.tier_cool_after_days),
                          cold=now - timedelta(days=settings.tier_cold_after_days),
                          archive=now - timedelta(days=settings.tier_archive_after_days))


def tier_for(last_used: datetime, now: datetime, settings: Settings) -> Tier:
    limits = thresholds(now, settings)
    if last_used < limits.archive:
        return "archive"
    if last_used < limits.cold:
        return "cold"
    return "cool" if last_used < limits.cool else "hot"


async def move_tiers(ctx: AppContext, limit: int = BATCH) -> dict[str, int]:
    """One pass of the timer: each misplaced file on its own (one failure stops nothing)."""
    await ctx.access.flush(ctx.db)  # this instance's latest reads count too
    now = ctx.clock()
    async with ctx.db.connection() as repo:
        rows = await repo.maintenance.tier_candidates(thresholds(now, ctx.settings), limit)
    counts: Counter[str] = Counter()
    for row in rows:
        target = tier_for(row["last_used"], now, ctx.settings)
        try:
            await ctx.stores.of(row).set_tier(row["file_path"], target)
        except ObjectNotFound:
            counts["missing"] += 1  # the reconciliation reports it
            continue
        except Exception as exc:  # a store's errors are many: the next run tries again
            log.warning("moving %s to %s failed: %s", row["id"], target, exc)
            counts["failed"] += 1
            continue
        async with ctx.db.connection() as repo:
            await repo.maintenance.set_tier(row["id"], target, now)
        counts[target] += 1
    return dict(counts)


async def _settle(ctx: AppContext, row: Row) -> bool:
    """Bring the row in line with the store for an archived file; True when its bytes can
    be read now. Starts a rehydration when none is under way."""
    store, path, now = ctx.stores.of(row), row["file_path"], ctx.clock()
    info = await store.info(path)
    if info is None:  # nothing to wait for: the read reports the missing bytes
        async with ctx.db.connection() as repo:
            await repo.maintenance.set_tier(row["id"], row["storage_tier"], now)
        return True
    if info.archive_status == "restored":  # S3: a readable restored copy, copied back now
        await store.set_tier(path, "hot")
        info = await store.info(path) or info
    if info.tier != "archive":
        async with ctx.db.connection() as repo:
            await repo.maintenance.set_tier(row["id"], info.tier or "hot", now)
        return True
    if info.archive_status is None:
        await store.set_tier(path, "hot")
        log.info("rehydration of %s started", row["id"])
    async with ctx.db.connection() as repo:
        await repo.maintenance.set_tier(row["id"], "archive", now, rehydrating=True)
    return False


async def ensure_readable(ctx: AppContext, row: Row) -> None:
    """Before a file's bytes are read: ``Rehydrating`` (202) while they are archived."""
    if row["storage_tier"] != "archive" and row["rehydration_requested_at"] is None:
        return
    if not await _settle(ctx, row):
        retry = ctx.settings.rehydrate_retry_after
        raise Rehydrating(details={"file_id": row["id"], "retry_after_seconds": retry},
                          headers={"Retry-After": str(retry), "Cache-Control": "no-store"})


async def check_rehydrations(ctx: AppContext, limit: int = BATCH) -> int:
    """The timer's look at files being rehydrated; the number found done."""
    async with ctx.db.connection() as repo:
        rows = await repo.maintenance.rehydrating(limit)
    done = 0
    for row in rows:
        try:
            done += await _settle(ctx, row)
        except Exception as exc:  # the next run looks again
            log.warning("checking the rehydration of %s failed: %s", row["id"], exc)
    return done
