"""The end of a resumable upload: the staged blocks committed in order and the file recorded,
once, whichever instance receives the last bytes.

The file's MD5 and SHA-256 are mostly known by then: every segment that arrived in order was
folded into the running state as it streamed. Bytes that arrived ahead of that prefix (chunks
sent out of order or in parallel) cannot be read back while they are only staged blocks, so
they are read once from the committed object and folded in before the file is recorded; the
object has no row until then, so no client can see it. A refusal at this point (declared
SHA-256 differs, the owner already has these bytes) removes the object and ends the session.
"""

from __future__ import annotations

import json

from shared.auth import Principal
from shared.context import AppContext
from shared.crypto import frames
from shared.crypto.hashstate import FileHashes
from shared.db import Repository, Row
from shared.errors import ApiError, ChecksumMismatch, UploadSessionExpired
from shared.files.content import read_plain
from shared.files.digests import Digests
from shared.files.models import UploadMetadata
from shared.files.sink import StoredFile
from shared.files.upload import record_upload
from shared.resumable.sessions import exclusively, refuse

# A completion racing another one waits this long for it before answering 423.
_COMPLETION_WAIT_SECONDS = 30.0


async def complete(ctx: AppContext, principal: Principal, session_id: str) -> Row:
    """The file of a session whose bytes are all staged (completing it if nobody has)."""
    row: Row = await exclusively(ctx, session_id,
                                 lambda: complete_locked(ctx, principal, session_id),
                                 wait=_COMPLETION_WAIT_SECONDS)
    return row


async def complete_locked(ctx: AppContext, principal: Principal, session_id: str) -> Row:
    """``complete`` for a caller that holds the session's lock already."""
    async with ctx.db.connection() as repo:
        session = await repo.sessions.get(session_id)
        done = (await repo.files.get(session["file_id"])
                if session is not None and session["state"] == "completed" else None)
    if session is None or session["state"] not in {"open", "completed"}:
        raise UploadSessionExpired(details={"session_id": session_id})
    if done is not None:
        return done
    return await _record(ctx, principal, session)


async def _refs(ctx: AppContext, session: Row) -> list[str]:
    async with ctx.db.connection() as repo:
        parts = await repo.sessions.parts(session["id"])
    return [ref for part in parts for ref in part["blocks"]]


def _stored(ctx: AppContext, session: Row, refs: list[str], content_md5: bytes | None
            ) -> StoredFile:
    store = ctx.stores.named(session["storage_provider"])
    envelope = session["encryption"]
    size = session["file_size"]

    async def commit(_md5: bytes) -> None:
        # Committing the same list again is harmless, so a completion retried after a
        # failure (or after the read-back below) commits it once more.
        await store.commit_blocks(session["file_path"], session["staging_handle"], refs,
                                  content_type=session["mime_type"], content_md5=content_md5,
                                  metadata={"file_id": session["file_id"]})

    return StoredFile(
        file_id=session["file_id"], path=session["file_path"], size=size,
        stored_size=frames.ciphertext_size(size) if envelope else size,
        mime_type=session["mime_type"], storage_provider=session["storage_provider"],
        envelope=envelope, commit=commit)


async def _digests(ctx: AppContext, session: Row, stored: StoredFile) -> tuple[str, str, bytes]:
    hashes = FileHashes.resume(session["hash_state"])
    start, size = session["hashed_bytes"], session["file_size"]
    if start < size:  # bytes that arrived ahead of the hashed prefix: read them back once
        await stored.commit(b"")
        digests = Digests(hashes)
        row = {"file_path": stored.path, "storage_provider": stored.storage_provider,
               "encryption": stored.envelope, "size_bytes": size}
        try:
            async for piece in await read_plain(ctx, row, start, size - 1):
                await digests.update(piece)
            return await digests.finish()
        except BaseException:
            digests.close()
            raise
    return hashes.digests()


async def _record(ctx: AppContext, principal: Principal, session: Row) -> Row:
    refs = await _refs(ctx, session)
    in_order = session["hashed_bytes"] == session["file_size"]
    md5_raw = FileHashes.resume(session["hash_state"]).digests()[2] if in_order else None
    stored = _stored(ctx, session, refs,
                     md5_raw if in_order and not session["encryption"] else None)
    try:
        digests = await _digests(ctx, session, stored)
        declared = session["checksum_sha256"]
        if declared and declared != digests[1]:
            raise ChecksumMismatch(details={"expected_sha256": declared,
                                            "actual_sha256": digests[1]})

        async def mark_completed(repo: Repository) -> None:
            await repo.sessions.update(session["id"], {"state": "completed",
                                                       "completed_at": ctx.clock()},
                                       expect={"state": "open"})

        return await record_upload(ctx, principal, stored, session["original_name"] or None,
                                   UploadMetadata.model_validate_json(json.dumps(session["metadata"])),
                                   None, digests, reserved=True, also=mark_completed)
    except ApiError as exc:  # a refusal: the session ends and its object goes
        if exc.status >= 500:
            raise
        raise await refuse(ctx, session, exc) from None
