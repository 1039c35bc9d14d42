"""Resumable upload sessions, shared by the chunk protocol and tus.

A session is created only after every refusal that can be made before a byte flows (size,
declared type, quota, a known SHA-256 already stored), with the quota reserved. It lives in
PostgreSQL, so any instance takes any request. It ends by completion (a file like any other),
by a refusal (type sniffed from the first bytes, checksum, duplicate), by the client (tus
termination) or by expiry; an ended session has released its quota and dropped its blocks.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from shared.auth import Principal
from shared.context import AppContext
from shared.crypto import frames
from shared.crypto.hashstate import FileHashes
from shared.db import Repository, Row
from shared.errors import (
    ApiError,
    DuplicateFile,
    FileTooLarge,
    InvalidFileType,
    NotFound,
    QuotaExceeded,
    UploadLocked,
    UploadSessionExpired,
)
from shared.files import quotas
from shared.files.content import data_key, new_envelope
from shared.files.models import UploadMetadata
from shared.files.service import refuse_past_expiry
from shared.files.sink import checked_type, normalised_type, object_path
from shared.ids import canonical_id
from shared.limits import UploadKind, admit_upload, memory_need
from shared.media.detect import OCTET_STREAM
from shared.resumable.stager import Target

log = logging.getLogger(__name__)
Protocol = Literal["chunks", "tus"]
MAX_CHUNKS = 10_000  # S3 allows 10,000 parts; Azure 50,000 committed blocks
TERMINATED = "terminated"  # ended by the client (tus DELETE): answers 404, not 410


@dataclass(frozen=True)
class NewSession:
    principal: Principal
    protocol: Protocol
    filename: str | None
    file_size: int
    declared_type: str | None
    metadata: UploadMetadata
    chunk_size: int | None = None
    checksum_sha256: str | None = None


def grant_chunk_size(ctx: AppContext, file_size: int, requested: int | None) -> int:
    """The chunk size the service grants: within the configured bounds and the store's
    smallest block, at most ``MAX_CHUNKS`` chunks, a multiple of the encryption frame."""
    settings = ctx.settings
    size = requested or settings.resumable_chunk_size
    size = max(size, settings.resumable_min_chunk_size, ctx.stores.primary.min_block_size)
    size = min(size, settings.resumable_max_chunk_size)
    size = max(size, -(-file_size // MAX_CHUNKS), 1)
    return -(-size // frames.FRAME_SIZE) * frames.FRAME_SIZE


def _refuse_early(ctx: AppContext, new: NewSession, declared: str) -> None:
    if new.metadata.expires_at is not None:
        refuse_past_expiry(new.metadata.expires_at, ctx.clock())
    limit = ctx.settings.max_resumable_file_size
    if new.file_size > limit:
        raise FileTooLarge(details={"file_size_bytes": new.file_size, "max_size_bytes": limit})
    allowed = ctx.settings.allowed_mime_types
    if declared not in {"", OCTET_STREAM} and declared not in allowed:
        raise InvalidFileType(details={"declared_type": declared, "allowed_types": allowed})


async def open_session(ctx: AppContext, new: NewSession) -> Row:
    """A new session counts as one new upload in the user's minute (shared/limits); its
    chunks then count only against the user's uploads in progress and the memory budget."""
    _refuse_early(ctx, new, normalised_type(new.declared_type))
    async with admit_upload(ctx.uploads, ctx.settings, new.principal.user_id,
                            need=memory_need(ctx.settings, 0), kind=UploadKind.NEW):
        return await _open_session(ctx, new)


def admit_chunk(ctx: AppContext, principal: Principal, length: int | None
                ) -> AbstractAsyncContextManager[None]:
    """Admission of one chunk (or tus PATCH) of ``length`` bytes: a slot among the user's
    uploads in progress and its memory, for as long as the request runs."""
    return admit_upload(ctx.uploads, ctx.settings, principal.user_id,
                        need=memory_need(ctx.settings, length), kind=UploadKind.CHUNK)


async def _open_session(ctx: AppContext, new: NewSession) -> Row:
    principal, settings = new.principal, ctx.settings
    declared = normalised_type(new.declared_type)
    quota = quotas.quota_for(principal, settings)
    async with ctx.db.connection() as repo:
        if new.checksum_sha256:
            existing = await repo.files.live_duplicate(principal.user_id, new.checksum_sha256)
            if existing:
                raise DuplicateFile(details={"existing_file_id": existing,
                                             "checksum_sha256": new.checksum_sha256})
        used = await repo.usage.used_bytes(principal.user_id)
    room = quotas.remaining(quota, used)
    if room is not None and new.file_size > room:
        raise QuotaExceeded(details={"file_size_bytes": new.file_size,
                                     "user_quota_remaining": room})
    file_id = str(uuid.uuid4())
    path = object_path(principal.user_id, file_id, declared or OCTET_STREAM)
    chunked = new.protocol == "chunks"
    chunk_size = (grant_chunk_size(ctx, new.file_size, new.chunk_size) if chunked
                  else settings.upload_block_size)
    made = await new_envelope(ctx.keyring, required=settings.encryption_required)
    store = ctx.stores.primary
    handle = await store.begin_blocks(path, content_type=declared or OCTET_STREAM)
    try:
        async with ctx.db.transaction() as repo:
            if await repo.usage.reserve(principal.user_id, new.file_size, quota) is None:
                raise QuotaExceeded(details={"file_size_bytes": new.file_size})
            return await repo.sessions.create({
                "id": str(uuid.uuid4()), "file_id": file_id, "user_id": principal.user_id,
                "protocol": new.protocol, "original_name": (new.filename or "")[:255],
                "declared_type": declared, "file_path": path,
                "storage_provider": store.name, "staging_handle": handle,
                "file_size": new.file_size, "chunk_size": chunk_size,
                "total_chunks": -(-new.file_size // chunk_size) if chunked else 0,
                "reserved_bytes": new.file_size,
                "metadata": new.metadata.model_dump(mode="json"),
                "checksum_sha256": new.checksum_sha256,
                "encryption": made[1] if made else None,
                "hash_state": FileHashes().export(),
                "expires_at": ctx.clock() + timedelta(seconds=settings.resumable_session_ttl),
            })
    except BaseException:
        await store.abort_blocks(path, handle)
        raise


async def load_session(ctx: AppContext, principal: Principal, session_id: str,
                       protocol: Protocol) -> Row:
    """The caller's session, open or completed: 404 for an unknown id, another user's
    session or one the client terminated; 410 for one that expired or was refused."""
    key = canonical_id(session_id)
    row = None
    if key is not None:
        async with ctx.db.connection() as repo:
            row = await repo.sessions.get(key)
    if row is None or row["user_id"] != principal.user_id or row["protocol"] != protocol:
        raise NotFound("Upload session not found", details={"session_id": session_id[:64]})
    if row["state"] == "open" and row["expires_at"] <= ctx.clock():
        await end_session(ctx, row, "expired", "expired")
        row = {**row, "state": "expired", "ended_reason": "expired"}
    if row["state"] in {"expired", "aborted"}:
        if row["ended_reason"] == TERMINATED:
            raise NotFound("Upload session not found", details={"session_id": key})
        raise UploadSessionExpired(details={"session_id": key, "reason": row["ended_reason"]})
    return row


async def end_session(ctx: AppContext, row: Row, state: str, reason: str) -> bool:
    """End an open session: release its quota, drop its blocks and any object committed
    before a refusal. False when it had already ended."""
    async with ctx.db.transaction() as repo:
        ended = await repo.sessions.update(row["id"], {"state": state, "ended_reason": reason},
                                           expect={"state": "open"})
        if ended is not None:
            await repo.usage.release(row["user_id"], row["reserved_bytes"])
    if ended is None:
        return False
    store = ctx.stores.named(row["storage_provider"])
    try:
        await store.delete(row["file_path"])
        await store.abort_blocks(row["file_path"], row["staging_handle"])
    except Exception as exc:  # the store drops uncommitted blocks on its own; log the rest
        log.warning("dropping the bytes of upload session %s failed: %s", row["id"], exc)
    return True


async def refuse(ctx: AppContext, row: Row, error: ApiError) -> ApiError:
    """End the session because of ``error`` (the error to raise)."""
    await end_session(ctx, row, "aborted", error.code.lower())
    return error


async def judge_type(ctx: AppContext, row: Row, sample: bytes) -> str:
    """The type of the file from its first bytes; a refusal ends the session (415)."""
    try:
        return checked_type(ctx.settings, sample, row["declared_type"])
    except InvalidFileType as exc:
        raise await refuse(ctx, row, exc) from None


def target_of(ctx: AppContext, row: Row) -> Target:
    return Target(ctx.stores.named(row["storage_provider"]), row["file_path"],
                  row["staging_handle"])


async def dek_of(ctx: AppContext, row: Row) -> bytes | None:
    envelope = row.get("encryption")
    return await data_key(ctx.keyring, envelope) if envelope else None


def lock_name(session_id: str) -> str:
    return f"upload-session:{session_id}"


async def exclusively(ctx: AppContext, session_id: str, action: Callable[[], Awaitable[Any]],
                      *, wait: float = 0.0) -> Any:
    """Run ``action`` holding the session's lock across instances; 423 if another request
    holds it for longer than ``wait`` seconds."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        async with ctx.db.exclusive(lock_name(session_id)) as taken:
            if taken:
                return await action()
        if asyncio.get_running_loop().time() >= deadline:
            raise UploadLocked(details={"session_id": session_id})
        await asyncio.sleep(0.1)


async def slide_expiry(repo: Repository, ctx: AppContext, row: Row) -> None:
    """Activity keeps a session alive (always well inside Azure's week for staged blocks)."""
    await repo.sessions.update(row["id"], {
        "expires_at": ctx.clock() + timedelta(seconds=ctx.settings.resumable_session_ttl)})
