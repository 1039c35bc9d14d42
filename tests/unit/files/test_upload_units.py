"""The pure pieces of the single-shot upload: path segment, checksum header, early refusals,
metadata part. (The streaming pass runs on in-memory fakes in test_upload_pipeline.py.)"""

from __future__ import annotations

import hashlib
import re

import pytest

from shared.auth import Principal, Role
from shared.errors import BadRequest, FileTooLarge, QuotaExceeded, Unprocessable
from shared.files.sink import user_segment
from shared.files.upload import (
    _ENVELOPE_BYTES,
    UploadRequest,
    _checked_md5,
    _parse_metadata,
    _precheck,
)
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")

MiB = 1024**2
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


# --- user_segment -------------------------------------------------------------------------

SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


@pytest.mark.parametrize(
    "user_id",
    ["alice", "user@example.com", "0b7c8e3a-1d2f-4e5a-9b6c-7d8e9f0a1b2c", "a_b-c.d", "a" * 64,
     "..."],
)
def test_safe_ids_are_kept(user_id: str) -> None:
    assert user_segment(user_id) == user_id


ODD_IDS = [
    "..", ".", "", " ", "a/b", "../../etc", "a\\b", "a b", "é", "a" * 65, "a:b", "a%2Fb",
    "alice\n", "alice\r\n", "\nalice", "a\x00b",
]


@pytest.mark.parametrize("user_id", ODD_IDS)
def test_odd_ids_are_hashed(user_id: str) -> None:
    segment = user_segment(user_id)
    assert re.fullmatch(r"h-[0-9a-f]{32}", segment), f"{user_id!r} kept as {segment!r}"


@pytest.mark.parametrize("user_id", [*ODD_IDS, "alice", "x" * 300, "日本", "a/../b"])
def test_every_segment_is_one_safe_path_segment(user_id: str) -> None:
    segment = user_segment(user_id)
    assert SAFE_SEGMENT.fullmatch(segment), repr(segment)
    assert segment not in {".", ".."}


def test_hashing_is_deterministic_and_tells_ids_apart() -> None:
    assert user_segment("a/b") == user_segment("a/b")
    segments = {user_segment(user_id) for user_id in ODD_IDS}
    assert len(segments) == len(set(ODD_IDS))
    assert user_segment("a/b") == "h-" + hashlib.sha256(b"a/b").hexdigest()[:32]


# --- _checked_md5 -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (EMPTY_MD5, EMPTY_MD5),
        (EMPTY_MD5.upper(), EMPTY_MD5),
        (f"  {EMPTY_MD5}\t", EMPTY_MD5),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_checked_md5(header: str | None, expected: str | None) -> None:
    assert _checked_md5(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        EMPTY_MD5[:-1],  # 31 hex digits
        EMPTY_MD5 + "0",  # 33
        "g" * 32,
        "1B2M2Y8AsgTpgAmY7PhCfg==",  # the base64 form (Content-MD5), not hex
        hashlib.sha256(b"").hexdigest(),
        f"md5={EMPTY_MD5}",
        EMPTY_MD5[:16] + " " + EMPTY_MD5[16:],
    ],
)
def test_checked_md5_refuses_what_is_not_an_md5_hex_digest(header: str) -> None:
    with pytest.raises(BadRequest) as info:
        _checked_md5(header)
    assert info.value.status == 400
    assert info.value.details == {"header": "X-File-Checksum"}


# --- _precheck ----------------------------------------------------------------------------

def limits(max_size: str = "3MB") -> Settings:
    return Settings(MAX_FILE_SIZE=max_size)


def request(content_length: int | None, role: Role = Role.USER) -> UploadRequest:
    return UploadRequest(principal=Principal("alice", role),
                         content_type="multipart/form-data; boundary=x",
                         content_length=content_length, checksum_md5=None)


def test_unknown_length_is_left_to_the_streaming_checks() -> None:
    _precheck(request(None), limits(), room=0)


@pytest.mark.parametrize("length", [0, 1, 3 * MiB, 3 * MiB + _ENVELOPE_BYTES])
def test_body_that_can_fit_is_not_refused_early(length: int) -> None:
    _precheck(request(length), limits(), room=None)
    _precheck(request(length), limits(), room=3 * MiB)


def test_body_that_cannot_fit_the_size_limit_is_refused_early() -> None:
    length = 3 * MiB + _ENVELOPE_BYTES + 1
    with pytest.raises(FileTooLarge) as info:
        _precheck(request(length), limits(), room=7 * MiB)
    assert info.value.status == 413
    assert info.value.code == "FILE_TOO_LARGE"
    assert info.value.details == {"file_size_bytes": 3 * MiB + 1, "max_size_bytes": 3 * MiB,
                                  "user_quota_remaining": 7 * MiB}


def test_body_that_cannot_fit_the_quota_is_refused_early() -> None:
    room = 1 * MiB
    length = room + _ENVELOPE_BYTES + 1
    with pytest.raises(QuotaExceeded) as info:
        _precheck(request(length), limits(), room=room)
    assert info.value.status == 413
    assert info.value.code == "QUOTA_EXCEEDED"
    assert info.value.details == {"file_size_bytes": room + 1, "user_quota_remaining": room}


def test_size_limit_is_reported_before_the_quota() -> None:
    with pytest.raises(FileTooLarge):
        _precheck(request(10 * MiB), limits(), room=0)


def test_unlimited_quota_only_meets_the_size_limit() -> None:
    _precheck(request(3 * MiB), limits(), room=None)
    with pytest.raises(FileTooLarge) as info:
        _precheck(request(50 * MiB), limits(), room=None)
    assert info.value.details["user_quota_remaining"] is None


def test_full_quota_refuses_any_sizeable_body() -> None:
    with pytest.raises(QuotaExceeded):
        _precheck(request(_ENVELOPE_BYTES + 1), limits(), room=0)


# --- _parse_metadata ----------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"", b"   \r\n\t"])
def test_empty_metadata_means_defaults(raw: bytes) -> None:
    metadata = _parse_metadata(raw)
    assert metadata.tags == [] and metadata.custom_fields == {}
    assert metadata.is_public is False and metadata.project_id is None


def test_valid_metadata() -> None:
    raw = (b'{"project_id": "p-1", "description": "Scan", "tags": [" invoice ", "2024",'
           b' "invoice"], "is_public": true, "auto_transform": true,'
           b' "custom_fields": {"client": "ACME", "pages": 3},'
           b' "expires_at": "2030-01-01T00:00:00Z"}')
    metadata = _parse_metadata(raw)
    assert metadata.project_id == "p-1"
    assert metadata.tags == ["invoice", "2024"]
    assert metadata.is_public is True and metadata.auto_transform is True
    assert metadata.custom_fields == {"client": "ACME", "pages": 3}
    assert metadata.expires_at is not None and metadata.expires_at.year == 2030


def unprocessable(raw: bytes) -> dict:
    with pytest.raises(Unprocessable) as info:
        _parse_metadata(raw)
    assert info.value.status == 422
    assert info.value.code == "UNPROCESSABLE_ENTITY"
    assert info.value.details["field"] == "metadata"
    errors = info.value.details["errors"]
    assert errors and all(set(error) == {"loc", "msg"} for error in errors)
    return info.value.details


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b"null", b'"text"', b"\xff\xfe{}", b'{"description": "\xff"}',
     b'{"tags": ["a"],}'],
)
def test_invalid_json_is_unprocessable(raw: bytes) -> None:
    unprocessable(raw)


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (b'{"tags": "a,b"}', "tags"),
        (b'{"tags": ["a", 5]}', "tags.1"),
        (b'{"is_public": "perhaps"}', "is_public"),
        (b'{"custom_fields": [1, 2]}', "custom_fields"),
        (b'{"expires_at": "next week"}', "expires_at"),
        (b'{"project_id": ""}', "project_id"),
        (b'{"tags": ["' + b"x" * 65 + b'"]}', "tags"),
    ],
)
def test_wrong_types_are_unprocessable_and_say_where(raw: bytes, loc: str) -> None:
    details = unprocessable(raw)
    assert loc in [error["loc"] for error in details["errors"]]


def test_extra_fields_are_unprocessable() -> None:
    details = unprocessable(b'{"tags": ["a"], "owner": "mallory", "is_admin": true}')
    assert {error["loc"] for error in details["errors"]} == {"owner", "is_admin"}


def test_every_error_is_reported() -> None:
    details = unprocessable(b'{"tags": 1, "is_public": "x", "bogus": 0}')
    assert {error["loc"] for error in details["errors"]} == {"tags", "is_public", "bogus"}
