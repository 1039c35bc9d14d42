"""The specification's error vocabulary, independent of any web framework.

Domain code raises ``ApiError`` subclasses; the HTTP adapter turns them into the
specification's body ``{"error": {code, message, details, timestamp, request_id}}``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    status = 500
    code = "INTERNAL_ERROR"
    message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "request_id": request_id,
            }
        }


def _error(name: str, status: int, code: str, message: str) -> type[ApiError]:
    return type(name, (ApiError,), {"status": status, "code": code, "message": message})


BadRequest = _error("BadRequest", 400, "BAD_REQUEST", "Malformed request")
ValidationFailed = _error("ValidationFailed", 400, "VALIDATION_ERROR", "Invalid request")
Unauthorized = _error("Unauthorized", 401, "UNAUTHORIZED", "Missing or invalid JWT")
Forbidden = _error("Forbidden", 403, "FORBIDDEN", "Insufficient permissions")
NotFound = _error("NotFound", 404, "NOT_FOUND", "File not found")
MethodNotAllowed = _error("MethodNotAllowed", 405, "METHOD_NOT_ALLOWED", "Method not allowed")
DuplicateFile = _error(
    "DuplicateFile", 409, "DUPLICATE_FILE", "A file with the same checksum already exists"
)
ChecksumMismatch = _error(
    "ChecksumMismatch", 422, "CHECKSUM_MISMATCH", "File checksum does not match provided value"
)
FileTooLarge = _error(
    "FileTooLarge", 413, "FILE_TOO_LARGE", "File size exceeds maximum allowed limit"
)
QuotaExceeded = _error("QuotaExceeded", 413, "QUOTA_EXCEEDED", "User storage quota exceeded")
InvalidFileType = _error(
    "InvalidFileType", 415, "INVALID_FILE_TYPE", "File type not allowed for upload"
)
Unprocessable = _error(
    "Unprocessable", 422, "UNPROCESSABLE_ENTITY", "Corrupted file or invalid metadata"
)
NotInTrash = _error("NotInTrash", 409, "FILE_NOT_DELETED", "The file is not in the trash")
RecoveryExpired = _error(
    "RecoveryExpired", 410, "RECOVERY_EXPIRED", "The recovery deadline has passed"
)
PreconditionFailed = _error(
    "PreconditionFailed", 412, "PRECONDITION_FAILED", "A precondition did not hold"
)
RangeNotSatisfiable = _error(
    "RangeNotSatisfiable", 416, "RANGE_NOT_SATISFIABLE", "Requested range not satisfiable"
)
TooManyRequests = _error(
    "TooManyRequests", 429, "RATE_LIMIT_EXCEEDED", "Upload rate limit exceeded"
)
UploadIdleTimeout = _error(
    "UploadIdleTimeout", 408, "UPLOAD_TIMEOUT", "The upload stalled: no bytes arrived in time"
)
StorageBackendError = _error(
    "StorageBackendError", 502, "STORAGE_BACKEND_ERROR", "Backend storage service unavailable"
)
ServiceUnavailable = _error(
    "ServiceUnavailable", 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"
)
EncryptionKeyUnavailable = _error(
    "EncryptionKeyUnavailable", 500, "ENCRYPTION_KEY_UNAVAILABLE",
    "The key that protects this file is not available to the service",
)
IntegrityFailure = _error(
    "IntegrityFailure", 500, "STORAGE_INTEGRITY_ERROR",
    "The stored bytes failed their integrity check",
)


# Media jobs. The worker records these on the transformation (``failed`` with the code and
# the message); they are not answered to an HTTP request.
class TransformationFailed(ApiError):
    status = 422
    code = "TRANSFORMATION_FAILED"
    message = "File transformation processing failed"


class UnreadableMedia(TransformationFailed):
    """The source is not what its type says, or is damaged: nothing could be decoded."""


class MediaLimitExceeded(TransformationFailed):
    """The source or the job went past one of the media limits (MEDIA_* settings)."""

    def __init__(self, limit: str, value: int | float, maximum: int | float,
                 message: str | None = None) -> None:
        super().__init__(message or f"{limit} {value} exceeds the limit of {maximum}",
                         details={"limit": limit, "value": value, "maximum": maximum})
        self.limit = limit


class JobTimedOut(MediaLimitExceeded):
    """The job ran past MEDIA_JOB_TIMEOUT (an FFmpeg child is killed first)."""

    def __init__(self, maximum: float, elapsed: float) -> None:
        super().__init__("job_seconds", round(elapsed, 3), maximum,
                         f"the job ran past its time limit of {maximum:g} s")


class Rehydrating(ApiError):
    """Not an error: the file is archived and its rehydration has started (202, with
    ``Retry-After``); the same request succeeds once the store has rehydrated it."""

    status = 202
    code = "FILE_REHYDRATING"
    message = "The file is archived; its rehydration has started. Retry later."

    def body(self, request_id: str) -> dict[str, Any]:
        return {"status": "rehydrating", "storage_tier": "archive", "message": self.message,
                **self.details, "request_id": request_id}


UploadSessionExpired = _error(
    "UploadSessionExpired", 410, "UPLOAD_SESSION_EXPIRED", "Resumable upload session has expired"
)
ChunkConflict = _error(
    "ChunkConflict", 409, "CHUNK_CONFLICT", "Different bytes are already held for this chunk"
)
OffsetMismatch = _error(
    "OffsetMismatch", 409, "UPLOAD_OFFSET_MISMATCH", "Upload-Offset differs from the upload's"
)
UploadLocked = _error(
    "UploadLocked", 423, "UPLOAD_LOCKED", "Another request is writing to this upload"
)
# tus's checksum extension answers a mismatch with 460 (the specification's code in the body).
UploadChecksumMismatch = _error(
    "UploadChecksumMismatch", 460, "CHECKSUM_MISMATCH",
    "File checksum does not match provided value",
)
