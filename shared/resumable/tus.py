"""tus 1.0 (core, creation, creation-with-upload, termination, checksum, expiration): what
the headers mean, parsed with bounds, on top of the same sessions as the chunk protocol.

The writing of a PATCH body is in ``tus_patch``; this module parses and answers the rest.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from pydantic import ValidationError

from shared.auth import Principal
from shared.context import AppContext
from shared.db import Row
from shared.errors import BadRequest, FileTooLarge, PreconditionFailed, Unprocessable
from shared.files.models import UploadMetadata
from shared.resumable.models import TusMetadata
from shared.resumable.sessions import (
    TERMINATED,
    NewSession,
    end_session,
    load_session,
    open_session,
)

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
_MAX_METADATA_HEADER = 8 * 1024
_MAX_METADATA_PAIRS = 32
_ALIASES = {"name": "filename", "type": "filetype"}  # Uppy sends both spellings


@dataclass(frozen=True)
class Creation:
    principal: Principal
    upload_length: str | None
    defer_length: str | None
    metadata: str | None


def check_version(value: str | None) -> None:
    """Every request but OPTIONS names the protocol version (412 otherwise)."""
    if value is not None and value.strip() != VERSION:
        raise PreconditionFailed("Unsupported tus version", details={"tus_version": VERSION},
                                 headers={"Tus-Version": VERSION})


def parse_length(raw: str | None, header: str) -> int:
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{header} must be a non-negative integer", details={"header": header})
    return int(text)


def parse_metadata(raw: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs (a value may be
    missing). Bounded in length and count; values must be UTF-8."""
    if not raw or not raw.strip():
        return {}
    if len(raw) > _MAX_METADATA_HEADER:
        raise BadRequest("Upload-Metadata is too long",
                         details={"max_bytes": _MAX_METADATA_HEADER})
    pairs = raw.split(",")
    if len(pairs) > _MAX_METADATA_PAIRS:
        raise BadRequest("Upload-Metadata has too many keys",
                         details={"max_keys": _MAX_METADATA_PAIRS})
    out: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.strip().partition(" ")
        if not key or not key.isascii() or not key.isprintable() or " " in value.strip():
            raise BadRequest("Upload-Metadata is malformed", details={"header": "Upload-Metadata"})
        try:
            out[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("Upload-Metadata values must be base64 of UTF-8 text",
                             details={"key": key[:64]}) from None
    return out


def metadata_of(pairs: dict[str, str]) -> TusMetadata:
    known = {_ALIASES.get(k, k): v for k, v in pairs.items()}
    values: dict[str, Any] = {k: known[k] for k in TusMetadata.model_fields if k in known}
    if "tags" in values:
        values["tags"] = [tag for tag in values["tags"].split(",") if tag.strip()]
    if "is_public" in values:
        values["is_public"] = values["is_public"].strip().lower() in {"true", "1", "yes"}
    for key in ("filename", "filetype"):  # the canonical name wins over its alias
        if key in pairs:
            values[key] = pairs[key]
    try:
        return TusMetadata.model_validate(values)
    except ValidationError as exc:
        raise Unprocessable("Invalid Upload-Metadata", details={"errors": [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
        ]}) from exc


async def create(ctx: AppContext, creation: Creation) -> Row:
    if creation.defer_length is not None:
        raise BadRequest("Upload-Defer-Length is not supported: send Upload-Length",
                         details={"header": "Upload-Defer-Length"})
    length = parse_length(creation.upload_length, "Upload-Length")
    if length > ctx.settings.max_resumable_file_size:
        raise FileTooLarge(details={"file_size_bytes": length,
                                    "max_size_bytes": ctx.settings.max_resumable_file_size})
    meta = metadata_of(parse_metadata(creation.metadata))
    return await open_session(ctx, NewSession(
        principal=creation.principal, protocol="tus", filename=meta.filename,
        file_size=length, declared_type=meta.filetype,
        metadata=UploadMetadata(project_id=meta.project_id, description=meta.description,
                                tags=meta.tags, is_public=meta.is_public),
        checksum_sha256=meta.checksum_sha256.lower() if meta.checksum_sha256 else None))


def offset_of(row: Row) -> int:
    if row["state"] == "completed":
        return int(row["file_size"])
    return int(row["received_bytes"] + row["carry_length"])


def upload_headers(row: Row) -> dict[str, str]:
    """What HEAD and PATCH answers say of an upload."""
    headers = {"Upload-Offset": str(offset_of(row)), "Upload-Length": str(row["file_size"]),
               "Tus-Resumable": VERSION, "X-File-Id": row["file_id"]}
    if row["state"] == "open":
        headers["Upload-Expires"] = format_datetime(row["expires_at"].astimezone(UTC), usegmt=True)
    return headers


async def head(ctx: AppContext, principal: Principal, upload_id: str) -> dict[str, str]:
    row = await load_session(ctx, principal, upload_id, "tus")
    return {**upload_headers(row), "Cache-Control": "no-store"}


async def terminate(ctx: AppContext, principal: Principal, upload_id: str) -> None:
    row = await load_session(ctx, principal, upload_id, "tus")
    if row["state"] == "completed":  # the file exists: DELETE /files/{id} removes it
        return
    await end_session(ctx, row, "aborted", TERMINATED)


def options_headers(max_size: int) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Tus-Version": VERSION, "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS)}
