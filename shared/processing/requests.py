"""``POST /transform`` and ``GET /transform/{id}``, and the defaults an upload with
``auto_transform`` gets.

A request is checked by the registry (shared/media/registry.py: 400 with the field, 403 with
the role needed), recorded as ``queued`` and put on the queue (``TRANSFORM_QUEUE_NAME``). If
the queue cannot take the message, the request still stands: the timer sends it again
(shared/processing/reaper.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from shared.auth import Principal
from shared.context import AppContext
from shared.db import Repository, Row
from shared.errors import NotFound
from shared.files.service import load_file
from shared.files.urls import file_urls
from shared.media import documents
from shared.media.registry import REGISTRY, ValidTransformation, validate_transformation
from shared.media.transforms import IMAGE_SOURCES, VIDEO_SOURCES
from shared.names import sanitize_filename
from shared.processing.models import (
    OutputFile,
    TransformAccepted,
    Transformation,
    TransformRequest,
    TransformStatus,
)

log = logging.getLogger(__name__)

VARIANT = "variant"  # a key of the stored parameters, not of the type's own model
PREVIEW = {"width": 1024, "height": 1024}
# Rough seconds per job, for ``estimated_completion`` (queue position × this).
_ESTIMATE_SECONDS = {"image": 3, "video": 60, "text": 10, "ocr": 20}


def _estimate(transformation_type: str) -> int:
    kind = transformation_type.split("_", 1)[0]
    return _ESTIMATE_SECONDS.get(kind, _ESTIMATE_SECONDS["text"])


def default_name(source_name: str, transformation_type: str, extension: str) -> str:
    stem = PurePosixPath(source_name).stem or "file"
    suffix = "thumbnail" if transformation_type == "thumbnail_generation" else \
        "text" if transformation_type in ("text_extraction", "ocr") else transformation_type
    return sanitize_filename(f"{stem}_{suffix}{extension}")


def transformation_of(row: Row, *, queue_position: int | None = None) -> Transformation:
    elapsed = None
    if row["started_at"] and row["completed_at"]:
        elapsed = round((row["completed_at"] - row["started_at"]).total_seconds() * 1000)
    estimated = None
    if queue_position is not None and row["status"] in ("queued", "processing"):
        seconds = queue_position * _estimate(row["transformation_type"])
        estimated = row["created_at"] + timedelta(seconds=seconds)
    return Transformation(
        id=row["id"], source_file_id=row["source_file_id"],
        target_file_id=row["target_file_id"],
        transformation_type=row["transformation_type"],
        parameters=row["transformation_params"] or {}, status=row["status"],
        progress_percent=row["progress_percent"], error_code=row["error_code"],
        error_message=row["error_message"] if row["status"] == "failed" else None,
        estimated_completion=estimated, started_at=row["started_at"],
        completed_at=row["completed_at"], processing_time_ms=elapsed,
        created_at=row["created_at"])


async def record(repo: Repository, source: Row, valid: ValidTransformation, *, user_id: str,
                 role: str, output_name: str | None, variant: str | None = None) -> Row:
    """``variant`` (``preview``) names what the output stands for at the CDN and in ``urls``
    (shared/db/edge.py); a thumbnail is one without saying."""
    name = sanitize_filename(output_name) if output_name else default_name(
        source["original_name"], variant or valid.type.name, valid.output.extension)
    stored = valid.stored_params | ({VARIANT: variant} if variant else {})
    return await repo.processing.create({
        "source_file_id": source["id"], "transformation_type": valid.type.name,
        "transformation_params": stored, "user_id": user_id,
        "requested_role": role, "output_name": name[:255]})


async def enqueue(ctx: AppContext, transform_ids: list[str]) -> None:
    """Put the messages on the queue; one that cannot go is left to the timer."""
    for transform_id in transform_ids:
        try:
            await ctx.queues.send(ctx.settings.transform_queue,
                                  json.dumps({"transformation_id": transform_id}))
        except Exception as exc:  # the queue's own errors are many; the row stays queued
            log.warning("transformation %s not queued (the timer will): %s", transform_id, exc)


async def request_transformation(ctx: AppContext, principal: Principal, body: TransformRequest
                                 ) -> TransformAccepted:
    async with ctx.db.transaction() as repo:
        source = await load_file(repo, principal, body.source_file_id)
        valid = validate_transformation(body.transformation_type, body.parameters,
                                        source["mime_type"], principal.role.value, ctx.settings)
        row = await record(repo, source, valid, user_id=source["user_id"],
                           role=principal.role.value, output_name=body.output_name)
    await enqueue(ctx, [row["id"]])
    async with ctx.db.connection() as repo:
        position = await repo.processing.queue_position(row["id"])
    return TransformAccepted(transformation=transformation_of(row, queue_position=position),
                             queue_position=position)


async def transformation_status(ctx: AppContext, principal: Principal, transform_id: str
                                ) -> TransformStatus:
    try:
        uuid.UUID(transform_id)
    except ValueError:
        raise NotFound(details={"transform_id": transform_id}) from None
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(transform_id)
        if row is None or not (principal.is_admin or row["user_id"] == principal.user_id):
            raise NotFound(details={"transform_id": transform_id})
        position = await repo.processing.queue_position(transform_id) \
            if row["status"] in ("queued", "processing") else None
        target = await repo.files.get(row["target_file_id"]) \
            if row["status"] == "completed" and row["target_file_id"] else None
    output = None
    if target is not None:
        output = OutputFile(id=target["id"], original_name=target["original_name"],
                            mime_type=target["mime_type"], size_bytes=target["size_bytes"],
                            urls=file_urls(target, ctx.settings))
    return TransformStatus(transformation=transformation_of(row, queue_position=position),
                           output_file=output,
                           result=row["result"] if row["status"] == "completed" else None)


def defaults_for(mime_type: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """What ``auto_transform`` asks for, by type: (type, parameters, variant). A thumbnail of
    an image and of a video (its poster frame); a thumbnail, a preview (1024 px) of the first
    page and the text of a PDF; the text of a DOCX or an RTF."""
    if mime_type in IMAGE_SOURCES or mime_type in VIDEO_SOURCES:
        return [("thumbnail_generation", {}, None)]
    if mime_type == documents.PDF:
        return [("thumbnail_generation", {}, None),
                ("thumbnail_generation", PREVIEW, "preview"),
                ("text_extraction", {}, None)]
    if mime_type == documents.DOCX or mime_type in documents.RTF:
        return [("text_extraction", {}, None)]
    return []


async def record_defaults(ctx: AppContext, repo: Repository, source: Row) -> list[str]:
    """Record the defaults of ``source`` (as its owner, role ``user``: every default is open
    to every role); the ids to enqueue once the transaction commits."""
    ids = []
    for transformation_type, parameters, variant in defaults_for(source["mime_type"]):
        assert transformation_type in REGISTRY
        valid = validate_transformation(transformation_type, parameters, source["mime_type"],
                                        "user", ctx.settings)
        row = await record(repo, source, valid, user_id=source["user_id"], role="auto",
                           output_name=None, variant=variant)
        ids.append(row["id"])
    return ids
