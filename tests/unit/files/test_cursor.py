"""Cursors of GET /files: each sort's value comes back as it went (dates with their zone,
sizes as integers, names as text), and whatever is not a cursor of this listing is a 400."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.errors import ValidationFailed
from shared.files import cursor
from shared.files.models import ListQuery

ID = str(uuid.uuid4())
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.mark.parametrize(("sort", "value"), [
    ("created_at", WHEN), ("updated_at", WHEN), ("size_bytes", 2**40),
    ("original_name", "réunion d'équipe.pdf"), ("file_type", "image"), ("mime_type", "a/b"),
])
def test_round_trip(sort: str, value: Any) -> None:
    query = ListQuery(sort=sort, order="asc", project_id="p", search="x")
    token = cursor.encode(query, {"id": ID, sort: value})
    assert len(token) <= cursor.MAX_CURSOR and token.isascii()
    assert cursor.decode(query, token) == (value, ID)


def _doc(**changes: Any) -> str:
    document = {"k": "created_at", "o": "desc", "t": False,
                "f": cursor._fingerprint(ListQuery()), "v": WHEN.isoformat(), "i": ID,
                **changes}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


@pytest.mark.parametrize("token", [
    "@@@", base64.urlsafe_b64encode(b"\xff\xfe").decode(), _doc(v="2026-01-02T03:04:05"),
    _doc(v=True), _doc(i="not-an-id"), _doc(i=ID.upper() + "0"), _doc(k="size_bytes"),
    _doc(t=True), _doc(f="0" * 16), _doc(extra=1), "A" * (cursor.MAX_CURSOR + 1),
])
def test_refusals(token: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        cursor.decode(ListQuery(), token)
    assert refused.value.details["errors"][0]["field"] == "cursor"


def test_sizes_must_be_integers_in_range() -> None:
    query = ListQuery(sort="size_bytes")
    for value in (-1, 2**63, 1.5, "5"):
        token = _doc(k="size_bytes", f=cursor._fingerprint(query), v=value)
        with pytest.raises(ValidationFailed):
            cursor.decode(query, token)
