"""The ``processing`` repository keeps one contract: the fake (tests/fakes/processing.py) and
PostgreSQL answer the same. Claims are conditional: one delivery wins, a stale one is taken
over; an ended transformation never changes again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.context import utc_now
from shared.db import Database, FileListing
from tests.contract.test_repository_contract import db, insert, user

__all__ = ["db", "user"]
pytestmark = pytest.mark.anyio


async def _queued(db: Database, source: str, user: str) -> str:
    async with db.transaction() as repo:
        row = await repo.processing.create({
            "source_file_id": source, "transformation_type": "thumbnail_generation",
            "transformation_params": {"width": 64}, "user_id": user,
            "requested_role": "user", "output_name": "t.jpg"})
    assert row["status"] == "queued" and row["attempts"] == 0
    return str(row["id"])


async def test_one_claim_wins_and_a_stale_one_is_taken_over(db: Database, user: str) -> None:
    source = await insert(db, user)
    tid = await _queued(db, source["id"], user)
    async with db.connection() as repo:
        first = await repo.processing.claim(tid, utc_now() - timedelta(minutes=1))
        assert first is not None and first["status"] == "processing" and first["attempts"] == 1
        assert await repo.processing.claim(tid, utc_now() - timedelta(minutes=1)) is None
        taken = await repo.processing.claim(tid, utc_now() + timedelta(minutes=1))
        assert taken is not None and taken["attempts"] == 2
        await repo.processing.release(tid, "boom")
        again = await repo.processing.claim(tid, utc_now() - timedelta(minutes=1))
        assert again is not None and again["attempts"] == 3


async def test_an_ended_transformation_stays_ended(db: Database, user: str) -> None:
    source = await insert(db, user)
    target = await insert(db, user, "t.jpg")
    tid = await _queued(db, source["id"], user)
    async with db.connection() as repo:
        assert await repo.processing.claim(tid, utc_now()) is not None
        assert await repo.processing.finish(tid, status="completed",
                                            target_file_id=target["id"], owns_target=True,
                                            result={"extracted_text_length": 7})
        assert not await repo.processing.finish(tid, status="failed", error_message="late")
        assert await repo.processing.claim(tid, utc_now() + timedelta(days=1)) is None
        assert await repo.processing.cancel_for_source(source["id"], "gone") == 0
        [summary] = await repo.processing.summaries(source["id"])
        assert summary["status"] == "completed" and summary["progress_percent"] == 100
        assert summary["output_file_id"] == target["id"]
        assert summary["extracted_text_length"] == 7
        assert [v["id"] for v in await repo.processing.variants(source["id"])] == [target["id"]]


async def test_cancel_ends_only_open_ones(db: Database, user: str) -> None:
    source = await insert(db, user)
    queued, running = await _queued(db, source["id"], user), await _queued(db, source["id"], user)
    async with db.connection() as repo:
        assert await repo.processing.queue_position(running) >= 2
        await repo.processing.claim(running, utc_now())
        assert await repo.processing.cancel_for_source(source["id"], "trashed") == 2
        for tid in (queued, running):
            row = await repo.processing.get(tid)
            assert row is not None
            assert (row["status"], row["error_code"], row["error_message"]) == \
                ("failed", "CANCELLED", "trashed")
        assert await repo.processing.variants(source["id"]) == []


async def test_stale_and_requeue(db: Database, user: str) -> None:
    source = await insert(db, user)
    tid = await _queued(db, source["id"], user)
    async with db.connection() as repo:
        await repo.processing.claim(tid, utc_now())
        later = utc_now() + timedelta(minutes=10)
        assert tid in [r["id"] for r in await repo.processing.stale(later, 10_000)]
        await repo.processing.requeue(tid)
        row = await repo.processing.get(tid)
        assert row is not None and row["status"] == "queued"
        assert tid not in [r["id"] for r in await repo.processing.stale(utc_now()
                                                                         - timedelta(minutes=1),
                                                                         10_000)]


async def test_undescribed_files_newest_first(db: Database, user: str) -> None:
    older = await insert(db, user, "old.png")
    newer = await insert(db, user, "new.png")
    async with db.connection() as repo:
        await repo.files.add_metadata(older["id"], "dimensions", {"width": 1})
        paths = await repo.processing.undescribed(utc_now() + timedelta(minutes=1), 10_000)
        mine = [p for p in paths if p in (older["file_path"], newer["file_path"])]
        assert mine == [newer["file_path"], older["file_path"]]
        await repo.files.add_metadata(newer["id"], "extraction", {"status": "done"})
        paths = await repo.processing.undescribed(utc_now() + timedelta(minutes=1), 10_000)
        assert newer["file_path"] not in paths and older["file_path"] in paths
        assert older["file_path"] not in await repo.processing.undescribed(
            utc_now() - timedelta(days=1), 10_000)


async def test_extracted_text_is_found_by_search(db: Database, user: str) -> None:
    source = await insert(db, user, "scan.pdf")
    other = await insert(db, user, "other.pdf")
    async with db.connection() as repo:
        assert await repo.processing.file_by_path(source["file_path"]) is not None
        await repo.processing.set_text(source["id"], "Le wombat dort.")
        page = await repo.files.page(FileListing(owner=user, search="wombat"))
        assert [r["id"] for r in page.rows] == [source["id"]] and page.total == 1
        assert other["id"] not in [r["id"] for r in page.rows]
