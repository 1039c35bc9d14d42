"""The queue worker: one message, ``{"transformation_id": ...}``, one transformation.

- The claim is a conditional UPDATE (queued, or processing with no heartbeat for
  ``STALE_SECONDS``): a message delivered twice does the work once, and a message delivered
  again after its worker died takes the work over.
- A job that fails on its input (``TransformationFailed``: unreadable, over a limit, timed
  out) ends the transformation ``failed`` with its code and message, and the message is done:
  running it again would fail again.
- Anything else (the store or the database unreachable) gives the claim back and raises: the
  host delivers the message again after ``visibilityTimeout``, and after ``maxDequeueCount``
  failures moves it to the poison queue, whose trigger (``give_up``) ends it ``failed``.
- A source trashed or deleted meanwhile cancels the job; its output is not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from shared.auth import Principal, Role
from shared.context import AppContext
from shared.db import Repository, Row
from shared.errors import ApiError, DuplicateFile, TransformationFailed
from shared.media.jobs import run_job, workspace
from shared.media.limits import MediaLimits
from shared.media.registry import ValidTransformation, load_transformation
from shared.processing.output import download, store_output
from shared.processing.requests import VARIANT

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 60.0
TEXT_TYPES = ("text_extraction", "ocr")
CANCELLED = "cancelled: the source file was moved to the trash or deleted"


class SourceGone(Exception):
    """The source left (trash, deletion) while its job ran."""


def transformation_id(body: bytes) -> str | None:
    try:
        message = json.loads(body)
        value = str(message["transformation_id"])
        uuid.UUID(value)
    except (ValueError, TypeError, KeyError):
        return None
    return value


async def _fail(ctx: AppContext, transform_id: str, code: str, message: str) -> None:
    async with ctx.db.connection() as repo:
        await repo.processing.finish(transform_id, status="failed", error_code=code,
                                     error_message=message)


async def _beat(ctx: AppContext, transform_id: str, progress: list[int]) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        with contextlib.suppress(Exception):  # a missed beat is not a failure
            async with ctx.db.connection() as repo:
                await repo.processing.heartbeat(transform_id, progress[0])


async def handle_message(ctx: AppContext, body: bytes) -> str:
    """Run one delivery; returns what happened ('completed', 'failed', 'skipped')."""
    transform_id = transformation_id(body)
    if transform_id is None:
        log.error("transformation message without a transformation id: %r", body[:200])
        return "skipped"
    stale = ctx.clock() - timedelta(seconds=STALE_SECONDS)
    async with ctx.db.connection() as repo:
        claimed = await repo.processing.claim(transform_id, stale)
        source = await repo.files.get(claimed["source_file_id"]) \
            if claimed and claimed["source_file_id"] else None
    if claimed is None:
        return "skipped"  # done, cancelled, or running elsewhere
    if source is None or source["deleted_at"] is not None:
        await _fail(ctx, transform_id, "CANCELLED", CANCELLED)
        return "failed"
    progress = [0]
    beat = asyncio.create_task(_beat(ctx, transform_id, progress))
    try:
        own = {k: v for k, v in claimed["transformation_params"].items() if k != VARIANT}
        valid = load_transformation(claimed["transformation_type"], own, source["mime_type"])
        return await _run(ctx, claimed, source, valid, progress)
    except TransformationFailed as exc:
        await _fail(ctx, transform_id, exc.code, exc.message)
        return "failed"
    except SourceGone:
        await _fail(ctx, transform_id, "CANCELLED", CANCELLED)
        return "failed"
    except Exception as exc:
        async with ctx.db.connection() as repo:
            await repo.processing.release(transform_id, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


def _owner(claimed: Row) -> tuple[Principal, bool]:
    """Whose file the output is, and whether it is held to their quota (a request by
    role) or only counted (an upload's defaults, ``role`` auto)."""
    role = claimed["requested_role"]
    if role in {r.value for r in Role}:
        return Principal(claimed["user_id"], Role(role)), True
    return Principal(claimed["user_id"], Role.USER), False


async def _run(ctx: AppContext, claimed: Row, source: Row, valid: ValidTransformation,
               progress: list[int]) -> str:
    transform_id = claimed["id"]
    limits = MediaLimits.from_settings(ctx.settings)
    with workspace(ctx.settings.temp_storage_path) as directory:
        source_path = directory / "source"
        output_path = directory / f"output{valid.output.extension}"
        started = time.perf_counter()
        await download(ctx, source, source_path)
        downloaded = time.perf_counter()

        def on_progress(percent: int) -> None:
            progress[0] = min(percent, 99)

        result = await run_job(valid, source_path, output_path, limits, on_progress)
        # where the time went (the rest of processing_time_ms is storing the output)
        result["timings_ms"] = {"read_source": round((downloaded - started) * 1000),
                                "job": round((time.perf_counter() - downloaded) * 1000)}
        text = None
        if valid.type.name in TEXT_TYPES:
            text = await asyncio.to_thread(output_path.read_text, "utf-8", "replace")
            result["extracted_text_length"] = len(text)
        result = json.loads(json.dumps(result, default=str))
        owner, bounded = _owner(claimed)
        target_id = str(uuid.uuid4())

        async def link(repo: Repository) -> None:
            await _complete(repo, claimed, target_id, True, result, text)

        try:
            await store_output(ctx, owner, output_path, result.get("mime_type")
                               or valid.output.mime_type, claimed["output_name"], source,
                               target_id, bounded=bounded, also=link)
        except DuplicateFile as exc:
            await _link_existing(ctx, claimed, owner, exc, result, text)
        except ApiError as exc:  # the quota or the size limit refused the output
            if isinstance(exc, TransformationFailed):
                raise
            raise TransformationFailed(f"the output could not be stored: {exc.message}",
                                       details={"reason": exc.code, **exc.details}) from exc
    log.info("transformation %s completed", transform_id)
    return "completed"


async def _complete(repo: Repository, claimed: Row, target_id: str, owns: bool,
                    result: dict[str, Any], text: str | None) -> None:
    """Inside the output's transaction: the source must still be live, the claim still open."""
    source = await repo.files.get(claimed["source_file_id"], for_update=True)
    if source is None or source["deleted_at"] is not None:
        raise SourceGone()
    if text is not None:
        await repo.processing.set_text(source["id"], text)
    if not await repo.processing.finish(claimed["id"], status="completed",
                                        target_file_id=target_id, owns_target=owns,
                                        result=result):
        raise SourceGone()  # cancelled (or ended by the timer) while it ran


async def _link_existing(ctx: AppContext, claimed: Row, owner: Principal, duplicate: ApiError,
                         result: dict[str, Any], text: str | None) -> None:
    """The owner already has these bytes as a live file: point at it (it is not a variant
    of the source, so it does not follow the source to the trash)."""
    async with ctx.db.transaction() as repo:
        existing = duplicate.details.get("existing_file_id") or await repo.files.live_duplicate(
            owner.user_id, str(duplicate.details.get("checksum_sha256", "")))
        if existing is None:
            raise TransformationFailed("the output duplicates a file that is gone")
        await _complete(repo, claimed, str(existing), False, result, text)


async def give_up(ctx: AppContext, body: bytes) -> str:
    """The poison queue's trigger: the message failed ``maxDequeueCount`` times."""
    transform_id = transformation_id(body)
    if transform_id is None:
        return "skipped"
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(transform_id)
        if row is None:
            return "skipped"
        last = row["error_message"] or "no worker finished it"
        ended = await repo.processing.finish(
            transform_id, status="failed", error_code="TRANSFORMATION_FAILED",
            error_message=f"gave up after {row['attempts']} attempts: {last}")
    return "failed" if ended else "skipped"
