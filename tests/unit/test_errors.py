"""The specification's error vocabulary and its body shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared import errors
from shared.errors import ApiError

# (class, HTTP status, code) as the specification's error tables give them.
TABLE = [
    (errors.BadRequest, 400, "BAD_REQUEST"),
    (errors.ValidationFailed, 400, "VALIDATION_ERROR"),
    (errors.Unauthorized, 401, "UNAUTHORIZED"),
    (errors.Forbidden, 403, "FORBIDDEN"),
    (errors.NotFound, 404, "NOT_FOUND"),
    (errors.MethodNotAllowed, 405, "METHOD_NOT_ALLOWED"),
    (errors.DuplicateFile, 409, "DUPLICATE_FILE"),
    (errors.FileTooLarge, 413, "FILE_TOO_LARGE"),
    (errors.QuotaExceeded, 413, "QUOTA_EXCEEDED"),
    (errors.InvalidFileType, 415, "INVALID_FILE_TYPE"),
    (errors.RangeNotSatisfiable, 416, "RANGE_NOT_SATISFIABLE"),
    (errors.ChecksumMismatch, 422, "CHECKSUM_MISMATCH"),
    (errors.Unprocessable, 422, "UNPROCESSABLE_ENTITY"),
    (errors.StorageBackendError, 502, "STORAGE_BACKEND_ERROR"),
    (errors.ServiceUnavailable, 503, "SERVICE_UNAVAILABLE"),
    (ApiError, 500, "INTERNAL_ERROR"),
]

# The specification's fixed messages for its specific codes.
SPEC_MESSAGES = {
    "FILE_TOO_LARGE": "File size exceeds maximum allowed limit",
    "INVALID_FILE_TYPE": "File type not allowed for upload",
    "CHECKSUM_MISMATCH": "File checksum does not match provided value",
    "QUOTA_EXCEEDED": "User storage quota exceeded",
    "STORAGE_BACKEND_ERROR": "Backend storage service unavailable",
}


@pytest.mark.parametrize(("cls", "status", "code"), TABLE, ids=[c.__name__ for c, _, _ in TABLE])
def test_status_and_code(cls: type[ApiError], status: int, code: str) -> None:
    error = cls()
    assert issubclass(cls, ApiError) and isinstance(error, Exception)
    assert (error.status, error.code) == (status, code)
    assert error.message and str(error) == error.message
    body = error.body("req_1")["error"]
    assert (body["code"], body["message"]) == (code, error.message)


@pytest.mark.parametrize(("code", "message"), sorted(SPEC_MESSAGES.items()))
def test_specific_codes_use_the_specs_messages(code: str, message: str) -> None:
    cls = next(c for c, _, c_code in TABLE if c_code == code)
    assert cls().message == message


def test_body_shape() -> None:
    error = errors.FileTooLarge(details={"file_size_bytes": 104857600,
                                         "max_size_bytes": 52428800,
                                         "user_quota_remaining": 1073741824})
    body = error.body("req_123456789")
    assert list(body) == ["error"]
    inner = body["error"]
    assert set(inner) == {"code", "message", "details", "timestamp", "request_id"}
    assert inner["code"] == "FILE_TOO_LARGE"
    assert inner["message"] == "File size exceeds maximum allowed limit"
    assert inner["details"] == {"file_size_bytes": 104857600, "max_size_bytes": 52428800,
                                "user_quota_remaining": 1073741824}
    assert inner["request_id"] == "req_123456789"
    assert json.loads(json.dumps(body)) == body


def test_custom_message_replaces_the_default_for_that_error_only() -> None:
    error = errors.NotFound("Transformation not found")
    assert error.message == "Transformation not found"
    assert str(error) == "Transformation not found"
    assert error.body("r")["error"]["message"] == "Transformation not found"
    assert errors.NotFound().message == "File not found"


def test_details_default_to_an_empty_object_not_shared() -> None:
    first, second = errors.BadRequest(), errors.BadRequest()
    assert first.details == {} and first.body("r")["error"]["details"] == {}
    first.details["field"] = "x"
    assert second.details == {}
    assert errors.BadRequest().details == {}


def test_details_and_headers_are_kept() -> None:
    details = {"errors": [{"field": "tags", "message": "too long"}]}
    error = errors.RangeNotSatisfiable(details=details,
                                       headers={"Content-Range": "bytes */1000"})
    assert error.details == details
    assert error.headers == {"Content-Range": "bytes */1000"}
    assert error.body("r")["error"]["details"] == details
    assert errors.NotFound().headers == {}


def test_timestamp_is_iso8601_utc_with_z() -> None:
    before = datetime.now(UTC)
    stamp = errors.NotFound().body("r")["error"]["timestamp"]
    after = datetime.now(UTC)
    assert stamp.endswith("Z") and "+" not in stamp
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= parsed <= after + timedelta(seconds=1)


def test_timestamp_is_taken_when_the_body_is_made() -> None:
    error = errors.NotFound()
    first = datetime.fromisoformat(error.body("a")["error"]["timestamp"])
    second = datetime.fromisoformat(error.body("b")["error"]["timestamp"])
    assert second >= first


def test_request_id_is_echoed_verbatim() -> None:
    for request_id in ["req_abc", "0b7c8e3a-1d2f-4e5a-9b6c-7d8e9f0a1b2c", ""]:
        assert errors.Forbidden().body(request_id)["error"]["request_id"] == request_id


def test_errors_can_be_raised_and_caught_as_api_errors() -> None:
    with pytest.raises(ApiError) as info:
        raise errors.QuotaExceeded(details={"user_quota_remaining": 0})
    assert info.value.status == 413
    assert info.value.details == {"user_quota_remaining": 0}
