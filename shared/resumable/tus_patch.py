"""A tus PATCH (and the body of a creation-with-upload): the bytes at the upload's offset,
staged as blocks of the final object while they stream, one writer at a time per upload.

Offsets in tus are sequential, so the running MD5/SHA-256 always advance here. Without an
``Upload-Checksum`` every block is recorded as soon as it is staged (bytes, digests state,
next block number), so a request cut short, even by the instance dying, keeps every block it
staged; when the client goes away the bytes received past the last block are kept too (the
carry, at most a frame, sealed when the file is). With a checksum nothing of the PATCH counts
until the whole body matched it (460 otherwise), as the extension requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from shared.auth import Principal
from shared.context import AppContext
from shared.crypto import carry
from shared.crypto.frames import FRAME_SIZE
from shared.crypto.hashstate import FileHashes
from shared.db import Row
from shared.errors import (
    ApiError,
    BadRequest,
    FileTooLarge,
    InvalidFileType,
    OffsetMismatch,
    UploadChecksumMismatch,
    UploadSessionExpired,
)
from shared.media.detect import SNIFF_BYTES, normalise
from shared.resumable.complete import complete_locked
from shared.resumable.sessions import (
    admit_chunk,
    dek_of,
    end_session,
    exclusively,
    judge_type,
    load_session,
    slide_expiry,
    target_of,
)
from shared.resumable.stager import StagedBlock, Stager
from shared.resumable.tus import CHECKSUM_ALGORITHMS, OFFSET_CONTENT_TYPE, offset_of, parse_length


@dataclass(frozen=True)
class Patch:
    principal: Principal
    upload_id: str
    offset: str | None          # Upload-Offset
    content_type: str | None
    checksum: str | None        # Upload-Checksum
    content_length: int | None


def parse_checksum(raw: str | None) -> tuple[str, bytes] | None:
    if raw is None or not raw.strip():
        return None
    algorithm, _, value = raw.strip().partition(" ")
    if algorithm.lower() not in CHECKSUM_ALGORITHMS:
        raise BadRequest("Unsupported Upload-Checksum algorithm",
                         details={"supported": list(CHECKSUM_ALGORITHMS)})
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum must be base64", details={"header": "Upload-Checksum"}
                         ) from None
    if len(digest) != hashlib.new(algorithm.lower()).digest_size:
        raise BadRequest("Upload-Checksum has the wrong length for its algorithm")
    return algorithm.lower(), digest


async def patch(ctx: AppContext, request: Patch, body: AsyncIterator[bytes]) -> Row:
    """Write the body at the upload's offset; the session afterwards (completed when these
    were its last bytes)."""
    if normalise(request.content_type) != OFFSET_CONTENT_TYPE:
        raise InvalidFileType(f"PATCH bodies must be {OFFSET_CONTENT_TYPE}",
                              details={"content_type": (request.content_type or "")[:100]})
    offset = parse_length(request.offset, "Upload-Offset")
    checksum = parse_checksum(request.checksum)
    row = await load_session(ctx, request.principal, request.upload_id, "tus")

    async def locked() -> Row:
        return await write_at(ctx, request.principal, row["id"], offset, checksum,
                              request.content_length, body)

    async with admit_chunk(ctx, request.principal, request.content_length):
        result: Row = await exclusively(ctx, row["id"], locked)
    return result


async def create_with_upload(ctx: AppContext, row: Row, principal: Principal,
                             checksum: tuple[str, bytes] | None, content_length: int | None,
                             body: AsyncIterator[bytes]) -> Row:
    """The body of a creation request, written at offset 0 (an empty upload completes at
    once). If it is refused, the client never learns the upload's URL, so the upload ends
    (its quota released) rather than waiting for expiry."""
    async def locked() -> Row:
        return await write_at(ctx, principal, row["id"], 0, checksum, content_length, body)

    try:
        async with admit_chunk(ctx, principal, content_length):
            result: Row = await exclusively(ctx, row["id"], locked)
    except ApiError as exc:
        if exc.status < 500:
            await end_session(ctx, row, "aborted", exc.code.lower())
        raise
    return result


async def write_at(ctx: AppContext, principal: Principal, session_id: str, offset: int,
                   checksum: tuple[str, bytes] | None, content_length: int | None,
                   body: AsyncIterator[bytes]) -> Row:
    """The PATCH itself; the caller holds the session's lock."""
    row = await load_session(ctx, principal, session_id, "tus")
    current = offset_of(row)
    if offset != current:
        raise OffsetMismatch(details={"upload_offset": current},
                             headers={"Upload-Offset": str(current)})
    if row["state"] == "completed":
        return row
    if content_length is not None and offset + content_length > row["file_size"]:
        raise FileTooLarge("The body goes past Upload-Length", details={
            "upload_length": row["file_size"], "upload_offset": offset,
            "content_length": content_length})
    writer = _PatchWriter(ctx, row, checksum, await dek_of(ctx, row))
    await writer.run(body)
    async with ctx.db.connection() as repo:
        after = await repo.sessions.get(session_id)
    if after is None or after["state"] not in {"open", "completed"}:
        raise UploadSessionExpired(details={"session_id": session_id})
    if offset_of(after) == after["file_size"] and after["state"] == "open":
        await complete_locked(ctx, principal, session_id)
        async with ctx.db.connection() as repo:
            after = await repo.sessions.get(session_id) or after
    return after


class _PatchWriter:
    def __init__(self, ctx: AppContext, row: Row, checksum: tuple[str, bytes] | None,
                 dek: bytes | None) -> None:
        self._ctx = ctx
        self._row = row
        self._dek = dek
        held = row["carry"] or b""
        self._carry = (carry.open_sealed(self._dek, held, _carry_context(row))
                       if self._dek and held else held)
        self._checksum = checksum
        self._digest = hashlib.new(checksum[0]) if checksum else None
        self._offset = row["received_bytes"] + len(self._carry)
        self._mime: str | None = row["mime_type"]
        self._sample = bytearray(self._carry if self._mime is None else b"")
        self._stager = Stager(
            target_of(ctx, row), offset=row["received_bytes"], first_block=row["next_block"],
            block_size=ctx.settings.upload_block_size, dek=self._dek,
            hashes=FileHashes.resume(row["hash_state"]), already_hashed=len(self._carry),
            on_block=None if checksum else self._record_block)

    async def run(self, body: AsyncIterator[bytes]) -> None:
        try:
            await self._stager.write(self._carry)
            interrupted = await self._consume(body)
            size = self._row["file_size"]
            if self._mime is None and self._offset >= min(SNIFF_BYTES, size) and \
                    not interrupted:
                self._mime = await judge_type(self._ctx, self._row, bytes(self._sample))
            if interrupted and self._digest is not None:
                raise interrupted  # an unverifiable body counts for nothing
            tail, state = await self._stager.finish(
                final=self._offset == size and not interrupted)
        except BaseException:
            await self._stager.abort()
            raise
        if self._digest is not None and self._checksum is not None and \
                self._digest.digest() != self._checksum[1]:
            raise UploadChecksumMismatch(details={"algorithm": self._checksum[0]})
        await self._record_end(tail, state)
        if interrupted:
            raise interrupted

    async def _consume(self, body: AsyncIterator[bytes]) -> Exception | None:
        """Read the body; the exception that cut it short (the client went away), if any."""
        iterator = aiter(body)
        while True:
            try:
                data = await anext(iterator)
            except StopAsyncIteration:
                return None
            except Exception as exc:
                return exc
            await self._take(data)

    async def _take(self, data: bytes) -> None:
        size = self._row["file_size"]
        if self._offset + len(data) > size:
            raise FileTooLarge("The body goes past Upload-Length", details={
                "upload_length": size})
        self._offset += len(data)
        if self._digest is not None:
            self._digest.update(data)
        if self._mime is None:
            self._sample += data
            if len(self._sample) >= min(SNIFF_BYTES, size):
                self._mime = await judge_type(self._ctx, self._row, bytes(self._sample))
                self._sample = bytearray()
        await self._stager.write(data)

    async def _record_block(self, block: StagedBlock) -> None:
        """One staged block counts at once (a request cut short keeps it)."""
        async with self._ctx.db.transaction() as repo:
            await repo.sessions.add_part(self._row["id"], _part([block]))
            changes: Row = {"hashed_bytes": block.end, "hash_state": block.hash_state,
                            "carry": None, "carry_length": 0, "next_block": block.number + 1}
            if self._mime:
                changes["mime_type"] = self._mime
            if await repo.sessions.update(self._row["id"], changes, expect={
                    "state": "open", "received_bytes": block.end}) is None:
                raise UploadSessionExpired(details={"session_id": self._row["id"]})

    async def _record_end(self, tail: bytes, state: bytes | None) -> None:
        blocks = self._stager.blocks
        staged = blocks[-1].end if blocks else self._row["received_bytes"]
        held = tail
        if self._dek and tail:
            held = carry.seal(self._dek, tail, _carry_context({**self._row,
                                                               "received_bytes": staged}))
        changes: Row = {"carry": held or None, "carry_length": len(tail),
                        "hashed_bytes": staged + len(tail), "hash_state": state,
                        "next_block": self._stager.next_block}
        if self._mime:
            changes["mime_type"] = self._mime
        async with self._ctx.db.transaction() as repo:
            if self._digest is not None and blocks:
                await repo.sessions.add_part(self._row["id"], _part(blocks))
            if await repo.sessions.update(self._row["id"], changes, expect={
                    "state": "open", "received_bytes": staged}) is None:
                raise UploadSessionExpired(details={"session_id": self._row["id"]})
            await slide_expiry(repo, self._ctx, self._row)


def _part(blocks: list[StagedBlock]) -> Row:
    return {"part_no": blocks[0].start // FRAME_SIZE, "plain_offset": blocks[0].start,
            "plain_length": blocks[-1].end - blocks[0].start, "checksum_md5": "",
            "blocks": [block.ref for block in blocks]}


def _carry_context(row: Row) -> bytes:
    return f"{row['id']}:{row['received_bytes']}".encode()
