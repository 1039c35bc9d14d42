"""Opaque cursors of ``GET /files`` (keyset pagination beside ``page``).

A cursor is the base64url of a small JSON document: the sort, the order, the state (live or
trashed) and a fingerprint of the filters it was made for, then the sort value and id of
the last row served. It grants nothing (the owner comes from the token): it only says where
the caller's own listing resumes, so it is validated, not signed. Any cursor that does not
decode, is over ``MAX_CURSOR`` characters, carries values of the wrong kind or belongs to
another listing (other sort, order, trash or filters) is refused with 400 VALIDATION_ERROR.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from shared.db import Row
from shared.errors import ApiError, ValidationFailed
from shared.files.models import ListQuery

MAX_CURSOR = 2048
_KEYS = {"k", "o", "t", "f", "v", "i"}
_DATES = {"created_at", "updated_at"}
_MAX_TEXT = 255


def _fingerprint(query: ListQuery) -> str:
    filters = [query.project_id, query.file_type, query.search, query.user_id]
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:16]


def encode(query: ListQuery, last: Row) -> str:
    value = last[query.sort]
    document = {"k": query.sort, "o": query.order, "t": query.trashed,
                "f": _fingerprint(query), "i": last["id"],
                "v": value.isoformat() if isinstance(value, datetime) else value}
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _refuse(message: str) -> ApiError:
    return ValidationFailed("Invalid cursor", details={"errors": [
        {"field": "cursor", "message": message}]})


def decode(query: ListQuery, token: str) -> tuple[Any, str]:
    """The (sort value, id) the listing resumes after."""
    if len(token) > MAX_CURSOR:
        raise _refuse(f"at most {MAX_CURSOR} characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        document = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _refuse("not a cursor of this API") from exc
    if not isinstance(document, dict) or set(document) != _KEYS:
        raise _refuse("not a cursor of this API")
    if (document["k"], document["o"], document["t"], document["f"]) != \
            (query.sort, query.order, query.trashed, _fingerprint(query)):
        raise _refuse("made for another listing (sort, order, trashed or filters differ)")
    return _value(query.sort, document["v"]), _file_id(document["i"])


def _value(sort: str, value: Any) -> Any:
    if sort in _DATES:
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise _refuse("not a cursor of this API")
        return parsed
    if sort == "size_bytes":
        if type(value) is not int or not 0 <= value < 2**63:
            raise _refuse("not a cursor of this API")
        return value
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise _refuse("not a cursor of this API")
    return value


def _file_id(value: Any) -> str:
    try:
        if isinstance(value, str) and len(value) == 36:
            return str(uuid.UUID(value))
    except ValueError:
        pass
    raise _refuse("not a cursor of this API")
