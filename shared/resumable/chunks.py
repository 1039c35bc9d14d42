"""The specification's chunk protocol: ``init``, ``PUT chunk`` (indices 1..total_chunks, any
order, any instance) and the status route that tells a client what is still missing.

A chunk is staged as blocks of the final object and recorded only once every byte is there
and its MD5 matches ``X-Chunk-Checksum``; a chunk sent again with the same bytes changes
nothing (200), with other bytes is refused (409). The request that records the last chunk
completes the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.auth import Principal
from shared.context import AppContext
from shared.crypto.hashstate import FileHashes
from shared.db import Row
from shared.errors import ApiError, BadRequest, ChecksumMismatch, ChunkConflict, ValidationFailed
from shared.files.models import file_record
from shared.media.detect import SNIFF_BYTES
from shared.resumable.complete import complete
from shared.resumable.models import (
    ChunkInfo,
    ChunkProgress,
    ChunkResponse,
    PendingFile,
    ResumableInit,
    ResumableInitResponse,
    SessionState,
    SessionStatusResponse,
    UploadSessionInfo,
)
from shared.resumable.sessions import (
    NewSession,
    admit_chunk,
    dek_of,
    judge_type,
    load_session,
    open_session,
    slide_expiry,
    target_of,
)
from shared.resumable.stager import Stager

_MD5_HEX = re.compile(r"[0-9a-fA-F]{32}")
_ROUTE = "/api/v1/storage/upload/resumable"
_KEEP_MAX = 16 * 1024 * 1024  # the largest chunk kept in memory to be folded in later


@dataclass(frozen=True)
class ChunkRequest:
    principal: Principal
    session_id: str | None      # X-Upload-Session
    index: str | None           # X-Chunk-Index
    checksum_md5: str | None    # X-Chunk-Checksum
    content_length: int | None


async def init_upload(ctx: AppContext, principal: Principal, body: ResumableInit
                      ) -> ResumableInitResponse:
    metadata = body.metadata.model_copy(
        update={"project_id": body.project_id or body.metadata.project_id})
    row = await open_session(ctx, NewSession(
        principal=principal, protocol="chunks", filename=body.filename,
        file_size=body.file_size, declared_type=body.mime_type, metadata=metadata,
        chunk_size=body.chunk_size,
        checksum_sha256=body.checksum_sha256.lower() if body.checksum_sha256 else None))
    base = ctx.settings.public_base_url.rstrip("/")
    return ResumableInitResponse(
        upload_session=UploadSessionInfo(
            session_id=row["id"], upload_url=f"{base}{_ROUTE}/chunk",
            status_url=f"{base}{_ROUTE}/{row['id']}", chunk_size=row["chunk_size"],
            requested_chunk_size=body.chunk_size,
            chunk_size_adjusted=body.chunk_size not in (None, row["chunk_size"]),
            total_chunks=row["total_chunks"], expires_at=row["expires_at"]),
        file=PendingFile(id=row["file_id"], status="uploading", progress=0))


def _index(row: Row, raw: str | None) -> int:
    total = row["total_chunks"]
    text = (raw or "").strip()
    if not text.isdigit() or len(text) > 9 or not 1 <= int(text) <= total:
        raise ValidationFailed("X-Chunk-Index must be an integer from 1 to total_chunks",
                               details={"header": "X-Chunk-Index", "total_chunks": total})
    return int(text)


def _md5(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if not _MD5_HEX.fullmatch(text):
        raise BadRequest("X-Chunk-Checksum must be an MD5 hex digest",
                         details={"header": "X-Chunk-Checksum"})
    return text.lower()


def _bounds(row: Row, index: int) -> tuple[int, int]:
    start = (index - 1) * row["chunk_size"]
    return start, min(row["chunk_size"], row["file_size"] - start)


def _wrong_size(index: int, expected: int, received: int | None) -> ApiError:
    return BadRequest("The chunk does not have the size the session expects", details={
        "index": index, "expected_bytes": expected, "received_bytes": received})


async def put_chunk(ctx: AppContext, request: ChunkRequest, body: AsyncIterator[bytes]
                    ) -> ChunkResponse:
    if not request.session_id:
        raise BadRequest("X-Upload-Session is required", details={"header": "X-Upload-Session"})
    row = await load_session(ctx, request.principal, request.session_id, "chunks")
    index = _index(row, request.index)
    _, length = _bounds(row, index)
    declared = _md5(request.checksum_md5)
    if request.content_length is not None and request.content_length != length:
        raise _wrong_size(index, length, request.content_length)
    async with ctx.db.connection() as repo:
        held = await repo.sessions.part(row["id"], index)
    if held is None:
        async with admit_chunk(ctx, request.principal, length):
            md5, held = await _receive(ctx, row, index, declared, body)
    else:
        md5 = await _md5_of(body, index, length)
        if declared is not None and declared != md5:
            raise ChecksumMismatch(details={"index": index, "expected_md5": declared,
                                            "actual_md5": md5})
    if held is not None and held["checksum_md5"] != md5:
        raise ChunkConflict(details={"index": index})
    async with ctx.db.connection() as repo:
        row = await repo.sessions.get(row["id"]) or row
    file = None
    if row["parts_received"] == row["total_chunks"]:
        file = await complete(ctx, request.principal, row["id"])
    return ChunkResponse(chunk=ChunkInfo(index=index, checksum_verified=declared is not None,
                                         already_received=held is not None),
                         upload=_progress(ctx, row, file is not None),
                         file=file_record(file, request.principal) if file else None)


async def _md5_of(body: AsyncIterator[bytes], index: int, length: int) -> str:
    """The MD5 of a chunk sent again (its bytes are only compared, never stored)."""
    digest, received = hashlib.md5(usedforsecurity=False), 0
    async for data in body:
        received += len(data)
        if received > length:
            raise _wrong_size(index, length, received)
        digest.update(data)
    if received != length:
        raise _wrong_size(index, length, received)
    return digest.hexdigest()


async def _receive(ctx: AppContext, row: Row, index: int, declared: str | None,
                   body: AsyncIterator[bytes]) -> tuple[str, Row | None]:
    """Stage and record a new chunk: its MD5, and the part another request recorded at this
    index first (None when this one was recorded)."""
    start, length = _bounds(row, index)
    in_order = row["hashed_bytes"] == start
    # A chunk ahead of the hashed prefix (sent in parallel) keeps its bytes for a moment, so
    # it can be folded in when the chunks before it land instead of being read back.
    kept: list[bytes] | None = None if in_order or length > _KEEP_MAX else []
    began = asyncio.get_running_loop().time()
    settings = ctx.settings
    stager = Stager(target_of(ctx, row), offset=start,
                    first_block=(index - 1) * (row["chunk_size"] // settings.upload_block_size
                                               + 1) + 1,
                    block_size=settings.upload_block_size, dek=await dek_of(ctx, row),
                    hashes=FileHashes.resume(row["hash_state"]) if in_order else None,
                    segment_md5=True)
    mime_type = None
    try:
        sample = bytearray()
        async for data in body:
            if stager.received + len(sample) + len(data) > length:
                raise _wrong_size(index, length, stager.received + len(sample) + len(data))
            if index == 1 and mime_type is None:
                sample += data
                if len(sample) < min(SNIFF_BYTES, length):
                    continue
                mime_type = await judge_type(ctx, row, bytes(sample))
                data, sample = bytes(sample), bytearray()
            if kept is not None:
                kept.append(data)
            await stager.write(data)
        if stager.received != length:
            raise _wrong_size(index, length, stager.received)
        _, state = await stager.finish(final=index == row["total_chunks"])
    except BaseException:
        await stager.abort()
        raise
    md5 = stager.segment_md5()
    if declared is not None and declared != md5:
        raise ChecksumMismatch(details={"index": index, "expected_md5": declared,
                                        "actual_md5": md5})
    async with ctx.db.transaction() as repo:
        added = await repo.sessions.add_part(row["id"], {
            "part_no": index, "plain_offset": start, "plain_length": length,
            "checksum_md5": md5, "blocks": [block.ref for block in stager.blocks]})
        if not added:
            return md5, await repo.sessions.part(row["id"], index)
        changes: Row = {"mime_type": mime_type} if mime_type else {}
        if in_order:
            changes.update(hashed_bytes=start + length, hash_state=state)
            await repo.sessions.update(row["id"], changes, expect={"hashed_bytes": start})
        elif changes:
            await repo.sessions.update(row["id"], changes)
        await slide_expiry(repo, ctx, row)
    if kept is not None:
        took = asyncio.get_running_loop().time() - began
        await _fold_when_next(ctx, row["id"], start, kept, min(max(1.0, 2 * took), 30.0))
    return md5, None


async def _fold_when_next(ctx: AppContext, session_id: str, start: int, pieces: list[bytes],
                          wait: float) -> None:
    """Fold a chunk into the file's digests once the hashed prefix reaches it, if that
    happens within ``wait`` seconds (its predecessors were in flight); otherwise its bytes
    are read back once at completion."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        async with ctx.db.connection() as repo:
            row = await repo.sessions.get(session_id)
        if row is None or row["state"] != "open" or row["hashed_bytes"] > start:
            return
        if row["hashed_bytes"] == start:
            break
        if loop.time() >= deadline:
            return
        await asyncio.sleep(0.02)

    def fold() -> bytes:
        hashes = FileHashes.resume(row["hash_state"])
        for piece in pieces:
            hashes.update(piece)
        return hashes.export()

    state = await asyncio.to_thread(fold)
    async with ctx.db.connection() as repo:
        await repo.sessions.update(session_id, {
            "hashed_bytes": start + sum(map(len, pieces)), "hash_state": state},
            expect={"hashed_bytes": start})


def _progress(ctx: AppContext, row: Row, completed: bool) -> ChunkProgress:
    total, size, received = row["total_chunks"], row["file_size"], row["received_bytes"]
    eta: datetime | None = None
    elapsed = (ctx.clock() - row["created_at"]).total_seconds()
    if completed or received >= size:
        eta = ctx.clock()
    elif received and elapsed > 0:
        eta = ctx.clock() + timedelta(seconds=(size - received) * elapsed / received)
    done = completed or row["state"] == "completed"
    return ChunkProgress(
        status="completed" if done else "uploading",
        progress_percent=round(100.0 * received / size, 2) if size else 100.0,
        chunks_uploaded=row["parts_received"],
        chunks_remaining=total - row["parts_received"], bytes_received=received,
        estimated_completion=eta)


async def session_status(ctx: AppContext, principal: Principal, session_id: str
                         ) -> SessionStatusResponse:
    row = await load_session(ctx, principal, session_id, "chunks")
    async with ctx.db.connection() as repo:
        held = [part["part_no"] for part in await repo.sessions.parts(row["id"])]
        file = (await repo.files.get(row["file_id"]) if row["state"] == "completed" else None)
    held_set = set(held)
    done = row["state"] == "completed"
    return SessionStatusResponse(
        upload_session=SessionState(
            session_id=row["id"], status="completed" if done else "uploading",
            file_id=row["file_id"], filename=row["original_name"], file_size=row["file_size"],
            chunk_size=row["chunk_size"], total_chunks=row["total_chunks"],
            expires_at=row["expires_at"]),
        chunks_received=held,
        chunks_missing=[i for i in range(1, row["total_chunks"] + 1) if i not in held_set],
        upload=_progress(ctx, row, done),
        file=file_record(file, principal) if file else None)
