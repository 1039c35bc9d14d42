"""Request and response models of ``/transform`` (the specification's shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.files.models import FileUrls

Status = Literal["queued", "processing", "completed", "failed"]


class TransformRequest(BaseModel):
    """Body of ``POST /transform``; ``parameters`` is checked against the type's own model
    (shared/media/params.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    source_file_id: str = Field(min_length=1, max_length=64)
    transformation_type: str = Field(min_length=1, max_length=100)
    parameters: dict[str, Any] = Field(default_factory=dict, max_length=32)
    output_name: str | None = Field(None, min_length=1, max_length=255)


class Transformation(BaseModel):
    id: str
    source_file_id: str | None
    target_file_id: str | None = None
    transformation_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    status: Status
    progress_percent: int = 0
    error_code: str | None = None
    error_message: str | None = None
    estimated_completion: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    processing_time_ms: int | None = None
    created_at: datetime


class TransformAccepted(BaseModel):
    transformation: Transformation
    queue_position: int


class OutputFile(BaseModel):
    id: str
    original_name: str
    mime_type: str
    size_bytes: int
    urls: FileUrls


class TransformStatus(BaseModel):
    transformation: Transformation
    output_file: OutputFile | None = None
    result: dict[str, Any] | None = Field(
        None, description="what the job reported: dimensions, duration_seconds, pages, "
                          "extracted_text_length, words, language...")
