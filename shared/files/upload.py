"""Single-shot multipart upload: one streaming pass from the request to the primary store.

The file part is hashed (MD5 + SHA-256), its type checked from its first bytes, its size
held against the size limit and the quota, and sent in blocks as it arrives. The blob is
committed only once everything is known to be right, inside the database transaction
that records the row, reserves the quota and queues the backup, so a refused or failed
upload leaves no blob, no row and no quota change behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from psycopg import errors as pg_errors
from pydantic import ValidationError

from shared import db
from shared.auth import Principal
from shared.crypto import frames
from shared.delivery.disposition import sanitize_filename
from shared.errors import (
    BadRequest,
    ChecksumMismatch,
    DuplicateFile,
    FileTooLarge,
    InvalidFileType,
    QuotaExceeded,
    TooManyRequests,
    Unprocessable,
)
from shared.files import quotas, repository
from shared.files.content import new_sealer
from shared.files.digests import Digests
from shared.files.models import FileRecord, UploadMetadata, UploadResponse, UploadStats
from shared.files.multipart import MultipartReader, PartData, PartEnd, PartStart
from shared.files.urls import file_urls
from shared.media.detect import (
    OCTET_STREAM,
    SNIFF_BYTES,
    detect_mime,
    extension_for,
    file_type,
    normalise,
)
from shared.settings import Settings, get_settings
from shared.storage import ObjectWriter, primary_store

MAX_METADATA_BYTES = 64 * 1024
# Room for the multipart framing and the metadata part when judging Content-Length.
_ENVELOPE_BYTES = MAX_METADATA_BYTES + 16 * 1024
_MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_HASHED_SEGMENT = re.compile(r"h-[0-9a-f]{32}")
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


@dataclass(frozen=True)
class UploadRequest:
    principal: Principal
    content_type: str | None
    content_length: int | None
    checksum_md5: str | None  # X-File-Checksum


def user_segment(user_id: str) -> str:
    """A storage path segment for a user id; ids that are not path-safe are hashed."""
    # A safe id that looks like a hashed one is hashed too, so two users never share a folder.
    if (_SAFE_SEGMENT.fullmatch(user_id) and user_id not in {".", ".."}
            and not _HASHED_SEGMENT.fullmatch(user_id)):
        return user_id
    return "h-" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


class FileSink:
    """Receives the file part's bytes: checks, hashes and stores them as they come."""

    def __init__(self, file_id: str, user_id: str, declared_type: str | None,
                 settings: Settings, room: int | None) -> None:
        self.file_id = file_id
        self._user_id = user_id
        self._declared = _ALIASES.get(normalise(declared_type), normalise(declared_type))
        self._settings = settings
        self._room = room
        self._sniff = bytearray()
        self._writer: ObjectWriter | None = None
        self._digests = Digests()
        self.sealer = new_sealer()  # None when encryption at rest is off
        self.size = 0
        self.mime_type = OCTET_STREAM
        self.path = ""

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._check_limits()
        await self._digests.update(data)
        if self._writer is None:
            self._sniff += data
            if len(self._sniff) >= SNIFF_BYTES:
                await self._open()
        else:
            await self._store(data)

    async def _store(self, data: bytes) -> None:
        assert self._writer is not None
        if self.sealer is not None:
            data = self.sealer.encryptor.update(data)
        if data:
            await self._writer.write(data)

    def _check_limits(self) -> None:
        limit = self._settings.max_file_size
        if self.size > limit:
            raise FileTooLarge(details={
                "file_size_bytes": self.size, "max_size_bytes": limit,
                "user_quota_remaining": self._room,
            })
        if self._room is not None and self.size > self._room:
            raise QuotaExceeded(details={
                "file_size_bytes": self.size, "user_quota_remaining": self._room,
            })

    async def _open(self) -> None:
        self.mime_type = self._checked_type(detect_mime(bytes(self._sniff[:SNIFF_BYTES]),
                                                        self._declared))
        self.path = (f"users/{user_segment(self._user_id)}/"
                     f"{self.file_id}{extension_for(self.mime_type)}")
        self._writer = await primary_store().writer(self.path)
        await self._store(bytes(self._sniff))
        self._sniff = bytearray()

    def _checked_type(self, detected: str) -> str:
        allowed = self._settings.allowed_mime_types
        details = {"detected_type": detected, "declared_type": self._declared or None,
                   "allowed_types": allowed}
        if detected not in allowed:
            raise InvalidFileType(details=details)
        if self._declared not in {"", OCTET_STREAM} and self._declared != detected:
            raise InvalidFileType("Declared file type does not match the file's content",
                                  details=details)
        return detected

    async def finish(self) -> tuple[str, str, bytes]:
        if self._writer is None:
            await self._open()
        if self.sealer is not None:
            assert self._writer is not None
            await self._writer.write(self.sealer.encryptor.finish())
        return await self._digests.finish()

    @property
    def stored_size(self) -> int:
        return self.size if self.sealer is None else frames.ciphertext_size(self.size)

    async def commit(self, md5_raw: bytes) -> None:
        assert self._writer is not None
        # The blob's Content-MD5 describes the stored bytes, so only plaintext blobs get it.
        await self._writer.commit(content_type=self.mime_type,
                                  content_md5=md5_raw if self.sealer is None else None,
                                  metadata={"file_id": self.file_id})

    async def abort(self) -> None:
        self._digests.close()
        if self._writer is not None:
            await self._writer.abort()


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

    def __init__(self, request: UploadRequest, settings: Settings, room: int | None) -> None:
        self.reader = MultipartReader(request.content_type)
        self._request = request
        self._settings = settings
        self._room = room
        self.sink: FileSink | None = None
        self.filename: str | None = None
        self.metadata = bytearray()
        self._current: str | None = None

    async def consume(self, body: AsyncIterator[bytes]) -> None:
        async for chunk in body:
            for event in self.reader.feed(chunk):
                await self._on(event)
        if not self.reader.finished:
            raise BadRequest("Multipart body ended before its closing boundary")
        if self.sink is None:
            raise BadRequest("The multipart body has no 'file' part", details={"field": "file"})

    async def _on(self, event: PartStart | PartData | PartEnd) -> None:
        if isinstance(event, PartStart):
            self._current = event.name
            if event.name == "file":
                if self.sink is not None:
                    raise BadRequest("Only one 'file' part is accepted",
                                     details={"field": "file"})
                self.filename = event.filename
                self.sink = FileSink(str(uuid.uuid4()), self._request.principal.user_id,
                                     event.content_type, self._settings, self._room)
        elif isinstance(event, PartData):
            if self._current == "file" and self.sink is not None:
                await self.sink.write(event.data)
            elif self._current == "metadata":
                self.metadata += event.data
                if len(self.metadata) > MAX_METADATA_BYTES:
                    raise BadRequest("The metadata part is too large",
                                     details={"max_bytes": MAX_METADATA_BYTES})
        else:
            self._current = None


class _UploadSlots:
    """Uploads in progress in this instance. Each holds up to ~24 MiB of blocks in flight,
    so the count bounds an instance's memory; past it a client is asked to retry."""

    def __init__(self) -> None:
        self.active = 0

    @contextlib.contextmanager
    def take(self, limit: int) -> Iterator[None]:
        if self.active >= limit:
            raise TooManyRequests(details={"max_concurrent_uploads": limit},
                                  headers={"Retry-After": "1"})
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1


_slots = _UploadSlots()


async def upload_file(request: UploadRequest, body: AsyncIterator[bytes]) -> UploadResponse:
    with _slots.take(get_settings().max_concurrent_uploads):
        return await _upload(request, body)


async def _upload(request: UploadRequest, body: AsyncIterator[bytes]) -> UploadResponse:
    settings = get_settings()
    started = time.perf_counter()
    principal = request.principal
    expected_md5 = _checked_md5(request.checksum_md5)
    quota = quotas.quota_for(principal, settings)
    async with db.connection() as conn:
        room = quotas.remaining(quota, await repository.usage_of(conn, principal.user_id))
    _precheck(request, settings, room)

    parsed = _UploadBody(request, settings, room)
    try:
        await parsed.consume(body)
        sink = parsed.sink
        assert sink is not None
        metadata = _parse_metadata(bytes(parsed.metadata))
        md5_hex, sha256_hex, md5_raw = await sink.finish()
        if expected_md5 and expected_md5 != md5_hex:
            raise ChecksumMismatch(details={"expected_md5": expected_md5, "actual_md5": md5_hex})
        row = await _record(principal, sink, parsed.filename, metadata, quota,
                            md5_hex, sha256_hex, md5_raw)
    except BaseException:
        if parsed.sink is not None:
            await parsed.sink.abort()
        raise
    elapsed = max(time.perf_counter() - started, 1e-6)
    return UploadResponse(
        file=FileRecord(**row),
        upload=UploadStats(upload_time_ms=round(elapsed * 1000),
                           transfer_rate_mbps=round(row["size_bytes"] * 8 / 1e6 / elapsed, 2)),
        urls=file_urls(row["id"], settings),
    )


async def _record(principal: Principal, sink: FileSink, filename: str | None,
                  metadata: UploadMetadata, quota: int | None,
                  md5_hex: str, sha256_hex: str, md5_raw: bytes) -> dict:
    """Reserve quota, insert the row, queue the backup and commit the blob: all or nothing."""
    name = sanitize_filename(filename) if filename else f"file{extension_for(sink.mime_type)}"
    try:
        async with db.transaction() as conn:
            if await repository.reserve_usage(conn, principal.user_id, sink.size, quota) is None:
                used = await repository.usage_of(conn, principal.user_id)
                raise QuotaExceeded(details={
                    "file_size_bytes": sink.size,
                    "user_quota_remaining": quotas.remaining(quota, used),
                })
            duplicate = await repository.find_live_duplicate(conn, principal.user_id, sha256_hex)
            if duplicate:
                raise DuplicateFile(details={"existing_file_id": duplicate,
                                             "checksum_sha256": sha256_hex})
            row = await repository.insert_file(conn, {
                "id": sink.file_id, "user_id": principal.user_id,
                "project_id": metadata.project_id, "original_name": name[:255],
                "file_path": sink.path, "file_type": file_type(sink.mime_type),
                "mime_type": sink.mime_type, "size_bytes": sink.size,
                "stored_size_bytes": sink.stored_size, "checksum_md5": md5_hex,
                "encryption_key_id": sink.sealer.key_id if sink.sealer else None,
                "encryption": sink.sealer.envelope if sink.sealer else None,
                "checksum_sha256": sha256_hex, "is_public": metadata.is_public,
                "description": metadata.description, "tags": metadata.tags,
                "custom_fields": metadata.custom_fields,
                "auto_transform": metadata.auto_transform, "expires_at": metadata.expires_at,
            })
            await repository.record_backup_pending(conn, sink.file_id, sink.path)
            await sink.commit(md5_raw)
    except pg_errors.UniqueViolation as exc:  # a concurrent upload of the same bytes won
        raise DuplicateFile(details={"checksum_sha256": sha256_hex}) from exc
    return row
