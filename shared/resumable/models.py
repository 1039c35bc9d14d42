"""Pydantic models of the chunk protocol (the specification's shapes, plus a few fields
that say what the service decided) and of tus's Upload-Metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.files.models import ShownFile, StrictModel, UploadMetadata

# Chunk indices run from 1 to total_chunks: the spec's example answers index 5 with
# chunks_uploaded 5 of 100.
CHUNK_INDEX_BASE: Literal[1] = 1
SHA256_HEX = r"^[0-9a-fA-F]{64}$"


class ResumableMetadata(UploadMetadata):
    """The init body's ``metadata``: as the multipart upload's (its ``project_id`` yields to
    the body's own)."""


class ResumableInit(BaseModel):
    """Body of ``POST /upload/resumable/init``. Unknown fields are ignored."""

    filename: str = Field(min_length=1, max_length=255)
    file_size: int = Field(ge=1, le=2**53, description="bytes")
    mime_type: str = Field(min_length=1, max_length=100)
    chunk_size: int | None = Field(
        None, ge=1, le=2**40,
        description="requested; the service may grant another (see upload_session.chunk_size)")
    project_id: str | None = Field(None, min_length=1, max_length=255)
    checksum_sha256: str | None = Field(
        None, pattern=SHA256_HEX,
        description="optional SHA-256 of the whole file: 409 at once if the caller already "
                    "has it; verified at the end (422 CHECKSUM_MISMATCH)")
    metadata: ResumableMetadata = Field(default_factory=ResumableMetadata)


class UploadSessionInfo(BaseModel):
    session_id: str
    upload_url: str
    status_url: str
    chunk_size: int = Field(description="the size every chunk but the last must have")
    requested_chunk_size: int | None = None
    chunk_size_adjusted: bool = Field(
        description="true when chunk_size differs from the one requested (a multiple of the "
                    "64 KiB encryption frame, within the service's bounds)")
    total_chunks: int
    chunk_index_base: Literal[1] = Field(
        CHUNK_INDEX_BASE, description="X-Chunk-Index runs from 1 to total_chunks")
    expires_at: datetime


class PendingFile(BaseModel):
    id: str
    status: Literal["uploading", "completed"]
    progress: float = Field(description="percent of the bytes received")


class ResumableInitResponse(BaseModel):
    upload_session: UploadSessionInfo
    file: PendingFile


class ChunkInfo(BaseModel):
    index: int
    status: Literal["uploaded"] = "uploaded"
    checksum_verified: bool = Field(description="X-Chunk-Checksum was sent and matched")
    already_received: bool = Field(False, description="the same bytes were held already")


class ChunkProgress(BaseModel):
    status: Literal["uploading", "completed"]
    progress_percent: float
    chunks_uploaded: int
    chunks_remaining: int
    bytes_received: int
    estimated_completion: datetime | None


class ChunkResponse(BaseModel):
    chunk: ChunkInfo
    upload: ChunkProgress
    file: ShownFile | None = Field(None, description="the stored file, once the last chunk "
                                                      "completed it")


class SessionState(BaseModel):
    session_id: str
    status: Literal["uploading", "completed"]
    file_id: str
    filename: str
    file_size: int
    chunk_size: int
    total_chunks: int
    chunk_index_base: Literal[1] = CHUNK_INDEX_BASE
    expires_at: datetime


class SessionStatusResponse(BaseModel):
    upload_session: SessionState
    chunks_received: list[int] = Field(description="indices held, ascending")
    chunks_missing: list[int] = Field(description="indices still to send, ascending")
    upload: ChunkProgress
    file: ShownFile | None = None


class TusMetadata(StrictModel):
    """What tus clients may say in Upload-Metadata (the rest is ignored)."""

    filename: str | None = Field(None, max_length=255)
    filetype: str | None = Field(None, max_length=100)
    project_id: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=4000)
    tags: list[str] = Field(default_factory=list, max_length=50)
    is_public: bool = False
    checksum_sha256: str | None = Field(None, pattern=SHA256_HEX)
