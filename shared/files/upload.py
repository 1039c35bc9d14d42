"""Single-shot multipart upload: one streaming pass from the request to the primary store.

The file part is hashed (MD5 + SHA-256), its type checked from its first bytes, its size
held against the size limit and the quota, and sent in blocks as it arrives. The blob is
committed only once everything is known to be right, inside the database transaction
that records the row, reserves the quota and queues the backup, so a refused or failed
upload leaves no blob, no row and no quota change behind.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError

from shared.auth import Principal
from shared.context import AppContext
from shared.db import DuplicateKey, Repository, Row
from shared.errors import (
    BadRequest,
    ChecksumMismatch,
    DuplicateFile,
    FileTooLarge,
    QuotaExceeded,
    Unprocessable,
)
from shared.files import quotas
from shared.files.models import UploadMetadata, UploadResponse, UploadStats, file_record
from shared.files.multipart import MultipartReader, PartData, PartEnd, PartStart
from shared.files.service import refuse_past_expiry
from shared.files.sink import FileSink, StoredFile
from shared.files.urls import file_urls
from shared.limits import UploadKind, admit_upload, memory_need
from shared.media.detect import extension_for, file_type
from shared.names import sanitize_filename
from shared.settings import Settings

MAX_METADATA_BYTES = 64 * 1024
# Parts the upload does not use (a browser form's other fields) are skipped, within bounds.
MAX_PARTS = 16
MAX_OTHER_PART_BYTES = 64 * 1024
# Room for the multipart framing and the metadata part when judging Content-Length.
_ENVELOPE_BYTES = MAX_METADATA_BYTES + 16 * 1024
_MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class UploadRequest:
    principal: Principal
    content_type: str | None
    content_length: int | None
    checksum_md5: str | None  # X-File-Checksum


def _parse_metadata(raw: bytes) -> UploadMetadata:
    if not raw.strip():
        return UploadMetadata()
    try:
        return UploadMetadata.model_validate_json(raw)
    except ValidationError as exc:
        raise Unprocessable("Invalid upload metadata", details={
            "field": "metadata",
            "errors": [{"loc": ".".join(map(str, e["loc"])), "msg": e["msg"]}
                       for e in exc.errors()],
        }) from exc


def _precheck(request: UploadRequest, settings: Settings, room: int | None) -> None:
    """Refuse before reading a body that cannot fit, when its length is declared."""
    if request.content_length is None:
        return
    least_file_size = request.content_length - _ENVELOPE_BYTES
    if least_file_size > settings.max_file_size:
        raise FileTooLarge(details={
            "file_size_bytes": least_file_size, "max_size_bytes": settings.max_file_size,
            "user_quota_remaining": room,
        })
    if room is not None and least_file_size > room:
        raise QuotaExceeded(details={"file_size_bytes": least_file_size,
                                     "user_quota_remaining": room})


def _checked_md5(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not _MD5_HEX.match(value.strip()):
        raise BadRequest("X-File-Checksum must be an MD5 hex digest",
                         details={"header": "X-File-Checksum"})
    return value.strip().lower()


class _UploadBody:
    """Walks the multipart events, feeding the file part to a sink."""

    def __init__(self, ctx: AppContext, request: UploadRequest, room: int | None) -> None:
        self.reader = MultipartReader(request.content_type)
        self._ctx = ctx
        self._request = request
        self._room = room
        self.sink: FileSink | None = None
        self.filename: str | None = None
        self.metadata = bytearray()
        self._current: str | None = None
        self._parts = 0
        self._other_bytes = 0

    async def consume(self, body: AsyncIterator[bytes]) -> None:
        async for chunk in body:
            for event in self.reader.feed(chunk):
                await self._on(event)
            if self.reader.finished:
                break  # what follows the closing boundary (the epilogue) is not read
        if not self.reader.finished:
            raise BadRequest("Multipart body ended before its closing boundary")
        if self.sink is None:
            raise BadRequest("The multipart body has no 'file' part", details={"field": "file"})

    async def _on(self, event: PartStart | PartData | PartEnd) -> None:
        if isinstance(event, PartStart):
            self._current = event.name
            self._parts += 1
            if self._parts > MAX_PARTS:
                raise BadRequest("Too many parts in the multipart body",
                                 details={"max_parts": MAX_PARTS})
            if event.name == "file":
                if self.sink is not None:
                    raise BadRequest("Only one 'file' part is accepted",
                                     details={"field": "file"})
                self.filename = event.filename
                self.sink = await FileSink(self._ctx, str(uuid.uuid4()),
                                           self._request.principal.user_id,
                                           event.content_type, self._room).prepare()
        elif isinstance(event, PartData):
            if self._current == "file" and self.sink is not None:
                await self.sink.write(event.data)
            elif self._current == "metadata":
                self.metadata += event.data
                if len(self.metadata) > MAX_METADATA_BYTES:
                    raise BadRequest("The metadata part is too large",
                                     details={"max_bytes": MAX_METADATA_BYTES})
            else:  # a part the service does not read: dropped, within a bound
                self._other_bytes += len(event.data)
                if self._other_bytes > MAX_OTHER_PART_BYTES:
                    raise BadRequest("Too many bytes in parts other than 'file' and "
                                     "'metadata'", details={"max_bytes": MAX_OTHER_PART_BYTES})
        else:
            self._current = None


async def upload_file(ctx: AppContext, request: UploadRequest, body: AsyncIterator[bytes]
                      ) -> UploadResponse:
    """Admitted by its memory need and the user's limits (shared/limits), then stored."""
    need = memory_need(ctx.settings, request.content_length)
    async with admit_upload(ctx.uploads, ctx.settings, request.principal.user_id, need=need,
                            kind=UploadKind.NEW):
        return await _upload(ctx, request, body)


async def _upload(ctx: AppContext, request: UploadRequest, body: AsyncIterator[bytes]
                  ) -> UploadResponse:
    settings = ctx.settings
    started = time.perf_counter()
    principal = request.principal
    expected_md5 = _checked_md5(request.checksum_md5)
    quota = quotas.quota_for(principal, settings)
    async with ctx.db.connection() as repo:
        room = quotas.remaining(quota, await repo.usage.used_bytes(principal.user_id))
    _precheck(request, settings, room)

    parsed = _UploadBody(ctx, request, room)
    try:
        await parsed.consume(body)
        sink = parsed.sink
        assert sink is not None
        metadata = _parse_metadata(bytes(parsed.metadata))
        if metadata.expires_at is not None:
            refuse_past_expiry(metadata.expires_at, ctx.clock())
        md5_hex, sha256_hex, md5_raw = await sink.finish()
        if expected_md5 and expected_md5 != md5_hex:
            raise ChecksumMismatch(details={"expected_md5": expected_md5, "actual_md5": md5_hex})
        row = await record_upload(ctx, principal, sink.stored(), parsed.filename, metadata,
                                  quota, (md5_hex, sha256_hex, md5_raw))
    except BaseException:
        if parsed.sink is not None:
            await parsed.sink.abort()
        raise
    elapsed = max(time.perf_counter() - started, 1e-6)
    return UploadResponse(
        file=file_record(row, principal),
        upload=UploadStats(upload_time_ms=round(elapsed * 1000),
                           transfer_rate_mbps=round(row["size_bytes"] * 8 / 1e6 / elapsed, 2)),
        urls=file_urls(row, settings),
    )


async def record_upload(ctx: AppContext, principal: Principal, stored: StoredFile,
                        filename: str | None, metadata: UploadMetadata, quota: int | None,
                        digests: tuple[str, str, bytes], *, reserved: bool = False,
                        also: Callable[[Repository], Awaitable[None]] | None = None) -> Row:
    """Reserve quota (unless ``reserved`` earlier, as resumable sessions do), insert the row,
    queue the backup, run ``also`` and commit the object: all or nothing. On any error the
    caller removes the object (a committed one too)."""
    md5_hex, sha256_hex, md5_raw = digests
    name = sanitize_filename(filename) if filename else f"file{extension_for(stored.mime_type)}"
    try:
        async with ctx.db.transaction() as repo:
            if not reserved and await repo.usage.reserve(principal.user_id, stored.size,
                                                         quota) is None:
                used = await repo.usage.used_bytes(principal.user_id)
                raise QuotaExceeded(details={
                    "file_size_bytes": stored.size,
                    "user_quota_remaining": quotas.remaining(quota, used),
                })
            duplicate = await repo.files.live_duplicate(principal.user_id, sha256_hex)
            if duplicate:
                raise DuplicateFile(details={"existing_file_id": duplicate,
                                             "checksum_sha256": sha256_hex})
            envelope = stored.envelope
            row = await repo.files.insert({
                "id": stored.file_id, "user_id": principal.user_id,
                "project_id": metadata.project_id, "original_name": name[:255],
                "file_path": stored.path, "file_type": file_type(stored.mime_type),
                "mime_type": stored.mime_type, "size_bytes": stored.size,
                "stored_size_bytes": stored.stored_size, "checksum_md5": md5_hex,
                "storage_provider": stored.storage_provider,
                "encryption_key_id": envelope["key_id"] if envelope else None,
                "encryption": envelope,
                "checksum_sha256": sha256_hex, "is_public": metadata.is_public,
                "description": metadata.description, "tags": metadata.tags,
                "custom_fields": metadata.custom_fields,
                "auto_transform": metadata.auto_transform, "expires_at": metadata.expires_at,
            })
            await repo.backups.add_pending(stored.file_id, stored.path)
            if also is not None:
                await also(repo)
            await stored.commit(md5_raw)
    except DuplicateKey as exc:  # a concurrent upload of the same bytes won
        raise DuplicateFile(details={"checksum_sha256": sha256_hex}) from exc
    return row
