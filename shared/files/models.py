"""Pydantic models of the files API: what clients send and what they get back.

The same models validate requests, shape responses and generate the OpenAPI document.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    Strict,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from shared.auth import Principal
from shared.db import Row, SortField
from shared.inputs import nul_in

# Checked by _clean_tags (after stripping, with the list's own error location); described
# here for the OpenAPI document.
Tag = Annotated[str, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 64})]

_MAX_CUSTOM_FIELDS_BYTES = 16 * 1024
_CUSTOM_DOC = "a JSON object of at most 16 KiB (UTF-8), no NaN or Infinity"


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > 64:
            raise ValueError("each tag must have 1 to 64 characters")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def _check_custom_fields(value: dict[str, Any]) -> dict[str, Any]:
    try:  # NaN and Infinity are not JSON, and PostgreSQL's jsonb refuses them
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except ValueError:
        raise ValueError("custom_fields must be plain JSON (no NaN or Infinity)") from None
    if len(encoded) > _MAX_CUSTOM_FIELDS_BYTES:
        raise ValueError(f"custom_fields must fit in {_MAX_CUSTOM_FIELDS_BYTES} bytes of JSON")
    return value


def _as_utc(value: datetime | None) -> datetime | None:
    """A date without an offset is read as UTC (never as the database server's zone)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class StrictModel(BaseModel):
    """Unknown fields refused, text stripped, and no NUL (U+0000) anywhere: PostgreSQL's
    text and jsonb cannot hold one."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # After validation: a "before" validator would make pydantic validate JSON input as
    # Python objects, where strict dates refuse their RFC 3339 strings.
    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        where = nul_in(self.model_dump())
        if where is not None:
            raise ValueError(f"NUL (U+0000) is not allowed in text ({where})")
        return self


# Booleans and dates are taken only as JSON booleans and RFC 3339 strings: "yes" is not
# true and 0 is not a date. Dates without an offset are UTC.
StrictBool = Annotated[bool, Strict()]
ExpiresAt = Annotated[datetime, Strict(), AfterValidator(_as_utc)]


class UploadMetadata(StrictModel):
    """The ``metadata`` part of a multipart upload."""

    project_id: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=4000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    is_public: StrictBool = False
    auto_transform: StrictBool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict, description=_CUSTOM_DOC)
    expires_at: ExpiresAt | None = Field(None, description="in the future; RFC 3339")

    _tags = field_validator("tags")(_clean_tags)
    _custom = field_validator("custom_fields")(_check_custom_fields)


class MetadataUpdate(StrictModel):
    """Absent fields are left as they are; ``null`` empties a field (no description, no
    tags, no custom fields)."""

    description: str | None = Field(None, max_length=4000)
    tags: list[Tag] | None = Field(None, max_length=50, description="null: no tags")
    custom_fields: dict[str, Any] | None = Field(
        None, description=_CUSTOM_DOC + "; null: no custom fields")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)

    @field_validator("custom_fields")
    @classmethod
    def _custom(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_custom_fields(value)


class FileUpdate(StrictModel):
    """Body of ``PUT /files/{file_id}``; absent fields are left as they are. ``null``
    clears ``project_id``, ``expires_at`` and the metadata fields, and leaves
    ``original_name`` and ``is_public`` (which always have a value) as they are."""

    original_name: str | None = Field(
        None, min_length=1, max_length=255,
        description="sanitised as at upload (path parts, control and bidi characters "
                    "dropped)")
    is_public: StrictBool | None = None
    project_id: str | None = Field(None, min_length=1, max_length=255)
    expires_at: ExpiresAt | None = Field(None, description="in the future; RFC 3339; null: "
                                                           "never expires")
    metadata: MetadataUpdate | None = None


class DeleteQuery(BaseModel):
    permanent: bool = Field(False, description="true: delete the bytes, the row and the "
                                                 "backup for good; false: to the trash")


class ListQuery(StrictModel):
    project_id: str | None = Field(None, max_length=255)
    file_type: str | None = Field(None, max_length=100)
    page: int = Field(1, ge=1, le=100_000)
    cursor: str | None = Field(
        None, max_length=2048,
        description="pagination.next_cursor of the previous page (keyset pagination: stable"
                    " and as fast on any page; same sort, order, trashed and filters; not"
                    " with page > 1)")
    limit: int = Field(20, ge=1, le=100)
    sort: SortField = "created_at"
    order: Literal["asc", "desc"] = "desc"
    search: str | None = Field(None, max_length=200)
    trashed: bool = False
    user_id: str | None = Field(None, max_length=255, description="admin only: whose files")


class FileUrls(BaseModel):
    download: str
    cdn: str | None = None
    thumbnail: str | None = None
    preview: str | None = None


class FileRecord(BaseModel):
    """A file as its owner sees it: never where its bytes are stored (``AdminFileRecord``)
    nor which key wraps its data key."""

    id: str
    user_id: str
    project_id: str | None = None
    original_name: str
    file_type: str
    mime_type: str
    size_bytes: int
    checksum_md5: str
    checksum_sha256: str
    storage_provider: str
    storage_tier: str
    # Which master key wraps the file's data key: never sent to clients (exclude).
    encryption_key_id: str | None = Field(None, exclude=True)
    is_public: bool
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    recovery_deadline: datetime | None = None


class AdminFileRecord(FileRecord):
    """What an admin also sees: the object's path in its store."""

    file_path: str = Field(description="admins only: the object's path in its store")


# A response's file: a FileRecord, or an AdminFileRecord (with its extra field) for admins.
ShownFile = SerializeAsAny[FileRecord]


def file_record(row: Row, principal: Principal | None) -> FileRecord:
    """The row as ``principal`` may see it: storage paths for admins only."""
    if principal is not None and principal.is_admin:
        return AdminFileRecord(**row)
    return FileRecord(**row)


class FileSummary(BaseModel):
    id: str
    original_name: str
    project_id: str | None = None
    file_type: str
    mime_type: str
    size_bytes: int
    is_public: bool
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    recovery_deadline: datetime | None = None
    urls: FileUrls
    metadata: dict[str, Any] = Field(default_factory=dict)


class UploadStats(BaseModel):
    status: Literal["completed"] = "completed"
    upload_time_ms: int
    transfer_rate_mbps: float


class UploadResponse(BaseModel):
    file: ShownFile
    upload: UploadStats
    urls: FileUrls


class Pagination(BaseModel):
    page: int
    limit: int
    total: int = Field(description="rows of the whole listing; see total_is_estimate")
    pages: int
    total_is_estimate: bool = Field(
        False, description="true: total (and pages) is the database's estimate, not a count."
        " Listings without project_id, file_type or search are always exact; filtered ones"
        " are counted exactly up to 1,000 rows")
    next_cursor: str | None = Field(
        None, description="pass as cursor for the next page; null on the last page")


class StorageUsage(BaseModel):
    used_bytes: int
    quota_bytes: int | None = Field(description="null: unlimited (admin)")
    usage_percent: float
    bytes_by_tier: dict[str, int] = Field(
        default_factory=dict, description="stored bytes (live and trashed) per storage tier")


class FileListResponse(BaseModel):
    files: list[FileSummary]
    pagination: Pagination
    storage_usage: StorageUsage


class TransformationSummary(BaseModel):
    id: str
    type: str
    status: str
    progress_percent: int = 0
    output_file_id: str | None = None
    error_message: str | None = None
    extracted_text_length: int | None = Field(
        None, description="text_extraction and ocr: characters of text extracted")


class FileDetailResponse(BaseModel):
    file: ShownFile
    metadata: dict[str, Any]
    urls: FileUrls
    transformations: list[TransformationSummary]


class FileUpdateResponse(BaseModel):
    file: ShownFile
    message: str = "File metadata updated successfully"


class DeleteResponse(BaseModel):
    file_id: str
    deleted: bool = True
    permanent: bool
    recovery_deadline: datetime | None
    storage_freed_bytes: int
    message: str


class RestoreResponse(BaseModel):
    file: ShownFile
    message: str = "File restored from trash"
