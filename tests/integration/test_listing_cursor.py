"""Cursor (keyset) pagination of GET /files through the devhost: it walks the same order as
pages, stays stable while files are added, and a cursor that is not one of ours, or not of
this listing, is refused with the spec's 400 body."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from tests.integration.helpers import assert_error

FILES = "/api/v1/storage/files"


@pytest.fixture
def named(upload, user):
    def add(name: str) -> str:
        content = f"{uuid.uuid4()} {name}\n".encode() * 10
        response = upload(user, content, filename=name,
                          mime="text/plain", metadata={"project_id": "cur"})
        assert response.status_code == 201, response.text
        return response.json()["file"]["id"]
    return add


def _walk(api, headers, params, between=None) -> list[str]:
    names: list[str] = []
    cursor = None
    for step in range(20):
        response = api.get(FILES, headers=headers, params={**params, **(
            {"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        names += [f["original_name"] for f in body["files"]]
        cursor = body["pagination"]["next_cursor"]
        if cursor is None:
            return names
        if between:
            between(step)
    raise AssertionError("the walk did not end")


def test_cursor_walk_is_stable_across_inserts(api, auth_headers, user, named):
    for name in ("b.txt", "d.txt", "f.txt", "h.txt", "j.txt"):
        named(name)
    h = auth_headers(user)
    params = {"sort": "original_name", "order": "asc", "limit": 2}
    assert _walk(api, h, params) == ["b.txt", "d.txt", "f.txt", "h.txt", "j.txt"]
    # a.txt lands before the pages already served (not seen, nothing shifts), i.txt after
    added = iter(["a.txt", "i.txt"])
    assert _walk(api, h, params, between=lambda step: named(next(added))) == [
        "b.txt", "d.txt", "f.txt", "h.txt", "i.txt", "j.txt"]
    # newest first: files added during the walk are newer than the cursor, never seen twice
    newest_first = _walk(api, h, {"limit": 3, "project_id": "cur"},
                         between=lambda step: named(f"new{step}.txt"))
    assert len(newest_first) == len(set(newest_first)) == 7
    assert not any(name.startswith("new") for name in newest_first)
    first = api.get(FILES, headers=h, params={"limit": 3}).json()["pagination"]
    assert first["total"] == 9 and not first["total_is_estimate"] and first["next_cursor"]


def _forged(document) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_bad_cursors_are_400(api, auth_headers, user, named):
    named("a.txt")
    named("b.txt")
    h = auth_headers(user)
    good = api.get(FILES, headers=h, params={"limit": 1}).json()["pagination"]["next_cursor"]
    assert api.get(FILES, headers=h, params={"limit": 1, "cursor": good}).status_code == 200
    decoded = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    for params in (
        {"cursor": "!!not base64!!"},
        {"cursor": _forged(["a", "list"])},
        {"cursor": _forged({**decoded, "v": 12})},                   # not a date
        {"cursor": _forged({**decoded, "i": "x' OR 1=1 --"})},        # not an id
        {"cursor": good, "sort": "size_bytes"},                       # another listing
        {"cursor": good, "order": "asc"},
        {"cursor": good, "trashed": "true"},
        {"cursor": good, "search": "a"},
        {"cursor": good, "page": 2},                                  # not with a page
        {"cursor": "A" * 2049},                                       # bounded
    ):
        body = assert_error(api.get(FILES, headers=h, params={"limit": 1, **params}), 400,
                            "VALIDATION_ERROR")
        assert body["details"]["errors"][0]["field"] == "cursor", (params, body)
