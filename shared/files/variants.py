"""Variants (outputs of the processing pipeline: thumbnails, extracted text, conversions)
follow their source: to the trash with it (and its open transformations are cancelled), back
with it, and away with it. Each runs inside the caller's transaction; a variant that is
already where the source goes is left alone."""

from __future__ import annotations

from datetime import datetime

from shared.db import Repository, Row

CANCELLED = "cancelled: the source file was moved to the trash or deleted"


async def trash(repo: Repository, source_id: str, now: datetime, deadline: datetime
                ) -> list[Row]:
    """The source goes to the trash: its live variants too (their bytes, like the source's,
    count against the quota until the trash is purged)."""
    await repo.processing.cancel_for_source(source_id, CANCELLED)
    moved = []
    for row in await repo.processing.variants(source_id):
        if row["deleted_at"] is None:
            moved.append(await repo.files.update(row["id"], {"deleted_at": now,
                                                              "recovery_deadline": deadline}))
    return moved


async def restore(repo: Repository, source: Row) -> list[Row]:
    """The source comes back: the variants trashed with it (same ``deleted_at``) come back
    unless a live file holds the same bytes (the trash never left the quota)."""
    back = []
    for row in await repo.processing.variants(source["id"]):
        if row["deleted_at"] is None or row["deleted_at"] != source["deleted_at"]:
            continue
        if await repo.files.live_duplicate(row["user_id"], row["checksum_sha256"]):
            continue
        back.append(await repo.files.update(row["id"], {"deleted_at": None,
                                                         "recovery_deadline": None}))
    return back


async def delete(repo: Repository, source_id: str) -> list[Row]:
    """The source is deleted for good: its variants too (rows, quota, backup copies); the
    caller deletes their stored bytes once the transaction has committed."""
    await repo.processing.cancel_for_source(source_id, CANCELLED)
    removed = await repo.processing.variants(source_id)
    for row in removed:
        await repo.usage.release(row["user_id"], row["size_bytes"])  # trashed ones count too
        await repo.backups.mark_for_deletion(row["file_path"])
        await repo.files.delete(row["id"])
    return removed
