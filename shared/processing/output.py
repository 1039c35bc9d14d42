"""Files in and out of a job: a stored file read (decrypted) to local disk, and a job's
output stored as a new file of the source's owner (quota, backup, encryption at rest as for
an upload: ``record_upload``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from shared.auth import Principal
from shared.context import AppContext
from shared.db import Repository, Row
from shared.errors import (
    EncryptionKeyUnavailable,
    IntegrityFailure,
    MediaLimitExceeded,
    TransformationFailed,
    UnreadableMedia,
)
from shared.files import quotas
from shared.files.content import read_plain
from shared.files.models import UploadMetadata
from shared.files.sink import FileSink, object_path
from shared.files.upload import record_upload
from shared.storage import ObjectArchived

_CHUNK = 1024**2


async def download(ctx: AppContext, row: Row, path: Path) -> None:
    """The plaintext of a stored file into ``path`` (refused past MEDIA_MAX_SOURCE_SIZE).

    What no retry can mend is a ``TransformationFailed``: an archived object (reading it
    through the API starts its rehydration), a data key that is gone, ciphertext that fails
    authentication. Anything else (the store unreachable) is raised as it is, to be retried.
    """
    limit = ctx.settings.media_max_source_size
    if row["size_bytes"] > limit:
        raise MediaLimitExceeded("source_bytes", row["size_bytes"], limit)
    try:
        with path.open("wb") as sink:
            if row["size_bytes"]:
                async for chunk in await read_plain(ctx, row, 0, row["size_bytes"] - 1):
                    await asyncio.to_thread(sink.write, chunk)
    except ObjectArchived as exc:
        raise TransformationFailed("the file is in the archive tier: download it once to "
                                   "rehydrate it, then ask again",
                                   details={"storage_tier": row["storage_tier"]}) from exc
    except (EncryptionKeyUnavailable, IntegrityFailure) as exc:
        raise UnreadableMedia(f"the stored file cannot be read: {exc.message}",
                              details={"reason": exc.code}) from exc


class OutputSink(FileSink):
    """A sink whose type is the job's (the service made these bytes): the upload allow-list
    is for what clients send, not for what the service derives from it."""

    def __init__(self, ctx: AppContext, file_id: str, user_id: str, mime_type: str,
                 room: int | None) -> None:
        super().__init__(ctx, file_id, user_id, mime_type, room)
        self._output_type = mime_type

    async def _open(self) -> None:
        self.mime_type = self._output_type
        self.path = object_path(self._user_id, self.file_id, self.mime_type)
        self._writer = await self._ctx.stores.primary.writer(self.path)
        await self._store(bytes(self._sniff))
        self._sniff = bytearray()


async def store_output(ctx: AppContext, owner: Principal, path: Path, mime_type: str,
                       name: str, source: Row, file_id: str, *, bounded: bool,
                       also: Callable[[Repository], Awaitable[None]]) -> Row:
    """Store ``path`` as a new file of ``owner`` named ``name``; ``also(repo)`` runs in
    the same transaction (it links the variant). ``bounded``: held to the owner's quota
    (requested transformations), else only counted (the upload's own defaults).
    ``DuplicateFile`` when the owner already has a live file with these bytes."""
    quota = quotas.quota_for(owner, ctx.settings) if bounded else None
    async with ctx.db.connection() as repo:
        room = quotas.remaining(quota, await repo.usage.used_bytes(owner.user_id))
    sink = OutputSink(ctx, file_id, owner.user_id, mime_type, room)
    try:
        await sink.prepare()  # sealed like an upload when encryption at rest is on
        with path.open("rb") as data:
            while chunk := await asyncio.to_thread(data.read, _CHUNK):
                await sink.write(chunk)
        digests = await sink.finish()
        metadata = UploadMetadata(project_id=source["project_id"])
        return await record_upload(ctx, owner, sink.stored(), name, metadata, quota, digests,
                                   also=also)
    except BaseException:
        await sink.abort()
        raise
