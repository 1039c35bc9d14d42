"""Metadata extraction when a blob lands (the blob trigger, Event Grid source in Azure).

The object is read to local disk, ``extract_metadata`` describes it, and each top-level part
of the description (``image``, ``exif``, ``gps``, ``document``, ``video``, ``audio``...,
``extraction``) is stored as one ``file_metadata`` row of that type. An unreadable or
over-limit file is recorded (``extraction.status`` = ``failed``) and the trigger succeeds:
it never loops. Event Grid delivers at least once: a file that has its ``extraction`` row
is not read again. When the upload asked for ``auto_transform``, the defaults for its type
are queued here, once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from shared.aio import found_soon
from shared.context import AppContext
from shared.db import Row
from shared.errors import TransformationFailed
from shared.media.jobs import workspace
from shared.media.limits import MediaLimits
from shared.media.metadata import extract_metadata
from shared.processing.output import download
from shared.processing.requests import enqueue, record_defaults
from shared.storage import ObjectNotFound

log = logging.getLogger(__name__)

EXTRACTION = "extraction"
CATCH_UP_AFTER = timedelta(minutes=10)  # the blob event had its chance
CATCH_UP_BATCH = 10


async def _row(ctx: AppContext, path: str) -> Row | None:
    async with ctx.db.connection() as repo:
        return await repo.processing.file_by_path(path)


async def _describe(ctx: AppContext, row: Row) -> dict[str, Any]:
    with workspace(ctx.settings.temp_storage_path) as directory:
        source = directory / "source"
        try:
            await download(ctx, row, source)
        except TransformationFailed as exc:  # over MEDIA_MAX_SOURCE_SIZE
            return {EXTRACTION: {"status": "failed", "error_code": exc.code,
                                 "error_message": exc.message, "details": exc.details}}
        return await asyncio.to_thread(extract_metadata, source, row["mime_type"],
                                       MediaLimits.from_settings(ctx.settings))


async def extract_for_blob(ctx: AppContext, path: str) -> str:
    """Describe the file stored at ``path``: 'done', 'failed' (recorded), or 'skipped'."""
    row = await found_soon(lambda: _row(ctx, path))
    if row is None:
        return "skipped"  # not ours, or its upload rolled back
    async with ctx.db.connection() as repo:
        if await repo.processing.has_metadata(row["id"], EXTRACTION):
            return "skipped"  # a second delivery
    try:
        described = await _describe(ctx, row)
    except ObjectNotFound:  # deleted since (then the row is gone too), or lost by the store
        described = {EXTRACTION: {"status": "failed", "error_code": "NOT_FOUND",
                                  "error_message": "the stored object is missing",
                                  "details": {}}}
    async with ctx.db.transaction() as repo:
        locked = await repo.files.get(row["id"], for_update=True)
        if locked is None or await repo.processing.has_metadata(row["id"], EXTRACTION):
            return "skipped"
        for kind, value in described.items():
            await repo.files.add_metadata(row["id"], kind[:50],
                                          value if isinstance(value, dict) else {"value": value})
        queued: list[str] = []
        # Recorded with the metadata, in one transaction: a second delivery finds the
        # metadata and stops above. A transformation the owner asked for before the landing
        # was described does not replace the defaults.
        if locked["auto_transform"] and locked["deleted_at"] is None:
            queued = await record_defaults(ctx, repo, locked)
    await enqueue(ctx, queued)
    status = described.get(EXTRACTION, {}).get("status", "done")
    if status == "failed":
        log.info("metadata of %s could not be extracted: %s", path, described[EXTRACTION])
    return str(status)


async def catch_up(ctx: AppContext, limit: int = CATCH_UP_BATCH) -> dict[str, int]:
    """The timer's part: describe files that no blob event described (an S3 primary fires
    none, an event can be lost, files older than the pipeline), a few per run."""
    async with ctx.db.connection() as repo:
        paths = await repo.processing.undescribed(ctx.clock() - CATCH_UP_AFTER, limit)
    counts = {"done": 0, "failed": 0, "skipped": 0, "errors": 0}
    for path in paths:
        try:
            counts[await extract_for_blob(ctx, path)] += 1
        except Exception as exc:  # one file's trouble stops nothing; the next run retries
            log.warning("metadata of %s: %s", path, exc)
            counts["errors"] += 1
    return counts
