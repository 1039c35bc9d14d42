"""Where an upload's bytes go: checked, hashed, sealed and sent to the primary store as
they arrive, and committed only when the caller's unit of work says so.

Any upload path (single-shot multipart today, resumable and tus next) feeds a ``FileSink``:
its type is judged from the first bytes, its size held against the size limit and the
quota, its MD5 and SHA-256 computed off the loop, and the store's writer stages blocks
that stay invisible until ``commit``; ``abort`` leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.context import AppContext
from shared.crypto import frames
from shared.errors import FileTooLarge, InvalidFileType, QuotaExceeded
from shared.files.content import Sealer, new_sealer
from shared.files.digests import Digests
from shared.media.detect import OCTET_STREAM, SNIFF_BYTES, detect_mime, extension_for, normalise
from shared.settings import Settings
from shared.storage import ObjectWriter

_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_HASHED_SEGMENT = re.compile(r"h-[0-9a-f]{32}")
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


@dataclass(frozen=True)
class StoredFile:
    """A new file's bytes, staged and not yet visible: ``commit(md5_raw)`` makes them so
    (``record_upload`` calls it last, inside the transaction that records the file)."""

    file_id: str
    path: str
    size: int
    stored_size: int
    mime_type: str
    storage_provider: str
    envelope: dict[str, Any] | None
    commit: Callable[[bytes], Awaitable[None]]


def user_segment(user_id: str) -> str:
    """A storage path segment for a user id; ids that are not path-safe are hashed."""
    # A safe id that looks like a hashed one is hashed too, so two users never share a folder.
    if (_SAFE_SEGMENT.fullmatch(user_id) and user_id not in {".", ".."}
            and not _HASHED_SEGMENT.fullmatch(user_id)):
        return user_id
    return "h-" + hashlib.sha256(user_id.encode()).hexdigest()[:32]


def normalised_type(raw: str | None) -> str:
    """A client's Content-Type for a file, normalised ('' when none was given)."""
    mime = normalise(raw)
    return _ALIASES.get(mime, mime)


def checked_type(settings: Settings, sample: bytes, declared: str) -> str:
    """The type judged from a file's first bytes (``SNIFF_BYTES`` of them, or the whole
    file): 415 unless it is allowed and agrees with a specific declared type."""
    detected = detect_mime(sample[:SNIFF_BYTES], declared)
    allowed = settings.allowed_mime_types
    details = {"detected_type": detected, "declared_type": declared or None,
               "allowed_types": allowed}
    if detected not in allowed:
        raise InvalidFileType(details=details)
    if declared not in {"", OCTET_STREAM} and declared != detected:
        raise InvalidFileType("Declared file type does not match the file's content",
                              details=details)
    return detected


def object_path(user_id: str, file_id: str, mime_type: str) -> str:
    """The key of a new file's object: generated, never from the client's file name."""
    return f"users/{user_segment(user_id)}/{file_id}{extension_for(mime_type)}"


class FileSink:
    """Receives one file's bytes: checks, hashes and stores them as they come."""

    def __init__(self, ctx: AppContext, file_id: str, user_id: str,
                 declared_type: str | None, room: int | None) -> None:
        self.file_id = file_id
        self._ctx = ctx
        self._user_id = user_id
        self._declared = normalised_type(declared_type)
        self._room = room
        self._sniff = bytearray()
        self._writer: ObjectWriter | None = None
        self._digests = Digests()
        self.sealer: Sealer | None = None  # set by prepare()
        self.storage_provider = ctx.stores.primary.name
        self.size = 0
        self.mime_type = OCTET_STREAM
        self.path = ""

    async def prepare(self) -> FileSink:
        """Seal the file when encryption at rest is on (its data key is wrapped off the event
        loop); 503 when ``ENCRYPTION_REQUIRED`` and no key. Before the first ``write``."""
        self.sealer = await new_sealer(self._ctx.keyring,
                                       required=self._ctx.settings.encryption_required)
        return self

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
        limit = self._ctx.settings.max_file_size
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
        self.mime_type = checked_type(self._ctx.settings, bytes(self._sniff), self._declared)
        self.path = object_path(self._user_id, self.file_id, self.mime_type)
        self._writer = await self._ctx.stores.primary.writer(self.path)
        await self._store(bytes(self._sniff))
        self._sniff = bytearray()

    async def finish(self) -> tuple[str, str, bytes]:
        """Every byte received: (md5 hex, sha256 hex, md5 raw). Not yet visible."""
        if self._writer is None:
            await self._open()
        if self.sealer is not None:
            assert self._writer is not None
            await self._writer.write(self.sealer.encryptor.finish())
        return await self._digests.finish()

    @property
    def stored_size(self) -> int:
        return self.size if self.sealer is None else frames.ciphertext_size(self.size)

    def stored(self) -> StoredFile:
        """What ``record_upload`` needs to know of the bytes received."""
        return StoredFile(
            file_id=self.file_id, path=self.path, size=self.size, stored_size=self.stored_size,
            mime_type=self.mime_type, storage_provider=self.storage_provider,
            envelope=self.sealer.envelope if self.sealer else None, commit=self.commit)

    async def commit(self, md5_raw: bytes) -> None:
        assert self._writer is not None
        # The object's Content-MD5 describes the stored bytes, so only plaintext gets it.
        await self._writer.commit(content_type=self.mime_type,
                                  content_md5=md5_raw if self.sealer is None else None,
                                  metadata={"file_id": self.file_id})

    async def abort(self) -> None:
        """Drop what was staged (and the object, if it was committed)."""
        self._digests.close()
        if self._writer is not None:
            await self._writer.abort()
