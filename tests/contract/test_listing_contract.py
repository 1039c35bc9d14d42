"""Listings at scale (issue 11), fake and PostgreSQL alike: keyset pagination (``after``)
walks the same order as ``offset`` with no row twice or missed, also across inserts; totals
are exact without filters (kept by triggers in PostgreSQL) and for filtered listings up to
``count_up_to``, then flagged as estimates; bytes per tier follow every change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.context import utc_now
from shared.db import Database, FileListing, Repository
from shared.db.pg import listing as listing_sql
from tests.contract.test_repository_contract import db, insert, user  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


async def _walk(repo: Repository, limit: int, **listing: Any) -> list[str]:
    """Every id, page after page through ``after``."""
    seen: list[str] = []
    after = None
    for _ in range(50):
        found = await repo.files.page(FileListing(limit=limit, after=after, **listing))
        seen += [r["id"] for r in found.rows]
        if not found.more:
            return seen
        last = found.rows[-1]
        after = (last[listing.get("sort", "created_at")], last["id"])
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("sort", ["size_bytes", "original_name", "created_at", "mime_type"])
@pytest.mark.parametrize("descending", [True, False])
async def test_keyset_walk_matches_offsets(db: Database, user: str, sort: str,  # noqa: F811
                                           descending: bool) -> None:
    for n in range(7):
        await insert(db, user, f"f{n % 3}", size_bytes=n % 2, mime_type=f"text/t{n % 2}")
    listing = {"owner": user, "sort": sort, "descending": descending}
    async with db.connection() as repo:
        everything = [r["id"] for r in (await repo.files.page(
            FileListing(limit=100, **listing))).rows]
        assert len(everything) == 7
        assert await _walk(repo, 3, **listing) == everything
        assert await _walk(repo, 1, **listing) == everything
        skipped = await repo.files.page(FileListing(
            limit=2, offset=1, **listing))
        assert [r["id"] for r in skipped.rows] == everything[1:3] and skipped.more


async def test_keyset_is_stable_across_inserts_and_filters(db: Database, user: str  # noqa: F811
                                                           ) -> None:
    for n in range(5):
        await insert(db, user, f"keep{n}", size_bytes=n, project_id="p")
    await insert(db, user, "other", size_bytes=99, project_id="q")
    listing = {"owner": user, "sort": "size_bytes", "project_id": "p"}
    async with db.connection() as repo:
        first = await repo.files.page(FileListing(limit=2, **listing))
        assert [r["original_name"] for r in first.rows] == ["keep4", "keep3"] and first.more
    await insert(db, user, "newer", size_bytes=50, project_id="p")  # before the cursor
    async with db.connection() as repo:
        last = first.rows[-1]
        rest = await repo.files.page(FileListing(
            limit=10, after=(last["size_bytes"], last["id"]), **listing))
        assert [r["original_name"] for r in rest.rows] == ["keep2", "keep1", "keep0"]
        assert not rest.more and rest.total == 6 and not rest.total_is_estimate


async def test_totals_exact_then_estimated(db: Database, user: str) -> None:  # noqa: F811
    for n in range(5):
        await insert(db, user, f"doc{n}", project_id="p", size_bytes=10)
    trashed = await insert(db, user, "gone", size_bytes=7)
    async with db.connection() as repo:
        await repo.files.update(trashed["id"], {"deleted_at": utc_now(),
                                                "recovery_deadline": utc_now() + timedelta(1)})
        plain = await repo.files.page(FileListing(owner=user, limit=2, count_up_to=2))
        assert (plain.total, plain.total_is_estimate, plain.more) == (5, False, True)
        trash = await repo.files.page(FileListing(owner=user, trashed=True, limit=1))
        assert (trash.total, trash.total_is_estimate) == (1, False)
        small = await repo.files.page(FileListing(owner=user, project_id="p", limit=2,
                                                  count_up_to=5))
        assert (small.total, small.total_is_estimate) == (5, False)
        big = await repo.files.page(FileListing(owner=user, project_id="p", limit=2,
                                                count_up_to=2))
        assert big.total_is_estimate and big.total >= 3
        whole = await repo.files.page(FileListing(owner=user, project_id="p", limit=10,
                                                  count_up_to=2))
        assert (whole.total, whole.total_is_estimate) == (5, False)  # all in sight
        searched = await repo.files.page(FileListing(owner=user, search="DOC", limit=2,
                                                     count_up_to=2))
        assert searched.more and len(searched.rows) == 2
        # exact while cheap (PostgreSQL counts a few search candidates as it sorts them)
        assert searched.total == 5 or (searched.total_is_estimate and searched.total >= 3)


async def test_totals_and_tiers_follow_every_change(db: Database, user: str  # noqa: F811
                                                    ) -> None:
    rows = [await insert(db, user, f"t{n}", size_bytes=100 + n) for n in range(3)]
    async with db.connection() as repo:
        assert await repo.maintenance.bytes_by_tier(user) == {"hot": 303}
        await repo.maintenance.set_tier(rows[0]["id"], "cool", utc_now())
        await repo.files.update(rows[1]["id"], {"deleted_at": utc_now()})
        assert await repo.maintenance.bytes_by_tier(user) == {"hot": 303 - 100, "cool": 100}
        assert (await repo.files.page(FileListing(owner=user))).total == 2
        assert (await repo.files.page(FileListing(owner=user, trashed=True))).total == 1
        await repo.files.delete(rows[0]["id"])
        assert await repo.maintenance.bytes_by_tier(user) == {"hot": 203}
        await repo.files.update(rows[1]["id"], {"deleted_at": None})
        assert (await repo.files.page(FileListing(owner=user, limit=1))).total == 2
        assert (await repo.files.page(FileListing(owner=user, trashed=True))).total == 0


@pytest.mark.parametrize("walk", [2, 50])
async def test_search_by_walking_gives_the_same_pages(db: Database, user: str,  # noqa: F811
                                                      walk: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL's two paths: a walk of the sort's index that finds the page (walk 50), or
    that falls short (walk 2), and then the gram index's candidates."""
    monkeypatch.setattr(listing_sql, "DENSE_WALK", walk)
    monkeypatch.setattr(listing_sql, "MAX_WALK", walk)
    for n in range(6):
        await insert(db, user, f"note-{n}" if n % 2 else f"misc-{n}", size_bytes=n,
                     tags=["keep"] if n == 4 else [])
    listing = {"owner": user, "search": "NOTE", "sort": "size_bytes", "descending": False}
    async with db.connection() as repo:
        first = await repo.files.page(FileListing(limit=2, **listing))
        assert [r["original_name"] for r in first.rows] == ["note-1", "note-3"] and first.more
        last = first.rows[-1]
        rest = await repo.files.page(FileListing(limit=2, after=(last["size_bytes"], last["id"]),
                                                 **listing))
        assert [r["original_name"] for r in rest.rows] == ["note-5"] and not rest.more
        skipped = await repo.files.page(FileListing(limit=1, offset=1, **listing))
        assert [r["original_name"] for r in skipped.rows] == ["note-3"] and skipped.more
        assert skipped.total == 3 or skipped.total_is_estimate
        tagged = await repo.files.page(FileListing(owner=user, search="kee", limit=1))
        assert [r["original_name"] for r in tagged.rows] == ["misc-4"] and not tagged.more
