"""The ``maintenance`` and ``edge`` repositories keep one contract: the fake
(tests/fakes/lifecycle_tables.py) and PostgreSQL answer the same. Each test filters what it
reads back to its own rows (the PostgreSQL database is the session's)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from shared.context import utc_now
from shared.db import Database
from shared.db.edge import CachedUrl
from shared.db.maintenance import TierThresholds
from shared.db.pg import PostgresDatabase
from tests.contract.test_repository_contract import FAR, db, insert, user
from tests.fakes.database import FakeDatabase

__all__ = ["db", "user"]  # fixtures shared with the files contract
pytestmark = pytest.mark.anyio
DAY = timedelta(days=1)


def add_transformation(db: Database, source: str, target: str | None, kind: str, *,
                       status: str = "completed", params: dict[str, Any] | None = None,
                       completed_ago: timedelta = timedelta(0)) -> None:
    """A row of file_transformations (no repository writes them yet: processing will)."""
    row = {"source_file_id": source, "target_file_id": target, "transformation_type": kind,
           "transformation_params": params or {}, "status": status,
           "completed_at": utc_now() - completed_ago}
    if isinstance(db, FakeDatabase):
        db.tables.transformations.append(row)
        return
    assert isinstance(db, PostgresDatabase)
    with psycopg.connect(db._url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO file_transformations (source_file_id, target_file_id,"
            " transformation_type, transformation_params, status, completed_at)"
            " VALUES (%(source_file_id)s, %(target_file_id)s, %(transformation_type)s,"
            " %(transformation_params)s, %(status)s, %(completed_at)s)",
            {**row, "transformation_params": Jsonb(row["transformation_params"])})


async def test_access_is_recorded_in_one_batch_and_only_moves_forward(db: Database,
                                                                     user: str) -> None:
    a, b = await insert(db, user), await insert(db, user)
    now = utc_now()
    async with db.connection() as repo:
        await repo.maintenance.record_access({a["id"]: now, b["id"]: now - DAY,
                                              str(uuid.uuid4()): now})
        await repo.maintenance.record_access({a["id"]: now - 2 * DAY})  # older: ignored
        assert (await repo.files.get(a["id"]))["last_accessed_at"] == now  # type: ignore[index]
        assert (await repo.files.get(b["id"]))["last_accessed_at"] == now - DAY  # type: ignore[index]
        await repo.maintenance.record_access({})


async def test_tier_candidates_are_the_misplaced_live_files(db: Database, user: str) -> None:
    now = utc_now()
    t = TierThresholds(cool=now - 30 * DAY, cold=now - 90 * DAY, archive=now - 180 * DAY)
    idle = {name: await insert(db, user, name, last_accessed_at=now - days * DAY)
            for name, days in (("fresh", 1), ("idle40", 40), ("idle100", 100),
                               ("idle200", 200))}
    cool_but_used = await insert(db, user, "used", storage_tier="cool",
                                 last_accessed_at=now - DAY)
    cold_in_place = await insert(db, user, "cold", storage_tier="cold",
                                 last_accessed_at=now - 100 * DAY)
    trashed = await insert(db, user, "trashed", last_accessed_at=now - 200 * DAY,
                           deleted_at=now)
    archived = await insert(db, user, "archived", storage_tier="archive",
                            last_accessed_at=now - 400 * DAY)
    async with db.connection() as repo:
        found = [r for r in await repo.maintenance.tier_candidates(t, FAR)
                 if r["user_id"] == user]
        assert [r["original_name"] for r in found] == ["idle200", "idle100", "idle40", "used"]
        assert found[0]["last_used"] == now - 200 * DAY
        ids = {r["id"] for r in found}
        assert not ids & {idle["fresh"]["id"], cold_in_place["id"], trashed["id"],
                          archived["id"]}
        assert cool_but_used["id"] in ids

        await repo.maintenance.set_tier(idle["idle200"]["id"], "archive", now)
        await repo.maintenance.set_tier(idle["idle40"]["id"], "hot", now, rehydrating=True)
        left = {r["original_name"] for r in await repo.maintenance.tier_candidates(t, FAR)
                if r["user_id"] == user}
        assert left == {"idle100", "used"}  # archived, or being rehydrated: left alone
        row = await repo.files.get(idle["idle200"]["id"])
        assert row is not None and row["storage_tier"] == "archive"
        assert row["tier_changed_at"] == now and row["updated_at"] < now + DAY
        rehydrating = [r["id"] for r in await repo.maintenance.rehydrating(FAR)]
        assert idle["idle40"]["id"] in rehydrating
        await repo.maintenance.set_tier(idle["idle40"]["id"], "hot", now + DAY)
        assert idle["idle40"]["id"] not in [r["id"] for r in
                                            await repo.maintenance.rehydrating(FAR)]
        assert (await repo.files.get(idle["idle40"]["id"]))["tier_changed_at"] is None  # type: ignore[index]
        assert await repo.maintenance.bytes_by_tier(user) == {
            "hot": 4 * 10, "cool": 10, "cold": 10, "archive": 2 * 10}
        assert await repo.maintenance.bytes_by_tier(f"{user}-none") == {}


async def test_verification_takes_the_longest_unchecked_first(db: Database,
                                                              user: str) -> None:
    now = utc_now()
    old = await insert(db, user, "old", integrity_checked_at=now - 10 * DAY)
    recent = await insert(db, user, "recent", integrity_checked_at=now - DAY)
    never = await insert(db, user, "never")
    await insert(db, user, "archived", storage_tier="archive")
    async with db.connection() as repo:
        batch = [r["id"] for r in await repo.maintenance.verification_batch(FAR)]
        mine = [i for i in batch if i in {old["id"], recent["id"], never["id"]}]
        assert mine == [never["id"], old["id"], recent["id"]]
        await repo.maintenance.mark_verified(never["id"], now)
        batch = [r["id"] for r in await repo.maintenance.verification_batch(FAR)]
        assert [i for i in batch if i in {old["id"], never["id"]}] == [old["id"], never["id"]]


async def test_rows_walk_in_byte_order(db: Database, user: str) -> None:
    names = ["b", "B", "a-2", "a_1", "é"]
    prefix = f"walk/{uuid.uuid4().hex}/"
    for name in names:
        file_id = str(uuid.uuid4())
        await insert(db, user, name, id=file_id, file_path=prefix + name)
        async with db.connection() as repo:
            await repo.backups.add_pending(file_id, prefix + name)
    expected = sorted((prefix + n for n in names), key=str.encode)
    async with db.connection() as repo:
        rows = await repo.maintenance.files_after("azure_blob", prefix, FAR)
        assert [r["file_path"] for r in rows if r["file_path"].startswith(prefix)] == expected
        page = await repo.maintenance.files_after("azure_blob", expected[1], 2)
        assert [r["file_path"] for r in page] == expected[2:4]
        assert await repo.maintenance.files_after("aws_s3", prefix, 1) == [] or all(
            r["storage_provider"] == "aws_s3"
            for r in await repo.maintenance.files_after("aws_s3", prefix, 5))
        backups = await repo.maintenance.backups_after(prefix, FAR)
        mine = [b for b in backups if b["file_path"].startswith(prefix)]
        assert [b["file_path"] for b in mine] == expected
        assert mine[0]["state"] == "pending" and set(mine[0]) == {
            "file_path", "file_id", "state", "checksum_sha256"}
        assert await repo.maintenance.backup_record(expected[0]) == mine[0]
        assert await repo.maintenance.backup_record(prefix + "none") is None


async def test_reports(db: Database) -> None:
    now = utc_now() + 1000 * DAY  # later than any other report of the session
    try:
        async with db.connection() as repo:
            await repo.maintenance.save_report("admin", now, now + DAY, {"missing": ["x"]})
            await repo.maintenance.save_report("timer", now - DAY, now, {"missing": []})
            last = await repo.maintenance.last_report()
    finally:  # the session's later tests read the last report of their own runs
        if isinstance(db, PostgresDatabase):
            with psycopg.connect(db._url, autocommit=True) as conn:
                conn.execute("DELETE FROM reconciliation_reports WHERE started_at >= %s",
                             (now - DAY,))
    assert last is not None and last["trigger"] == "admin"
    assert last["report"] == {"missing": ["x"]} and last["finished_at"] == now + DAY


async def test_purge_requests_and_their_results(db: Database, user: str) -> None:
    file = await insert(db, user)
    async with db.connection() as repo:
        created = await repo.edge.create_purge(
            requested_by=user, reason="api", purge_type="all", file_ids=[file["id"]],
            urls=["https://cdn/files/x"], providers=["varnish", "cloudflare"])
        assert created["status"] == "queued" and created["file_ids"] == [file["id"]]
        assert [r["provider"] for r in created["results"]] == ["cloudflare", "varnish"]
        assert {r["status"] for r in created["results"]} == {"queued"}
        await repo.edge.start_purge(created["id"])
        await repo.edge.set_result(created["id"], "varnish", "completed", urls_purged=1)
        await repo.edge.set_result(created["id"], "cloudflare", "failed",
                                   error_code="CDN_SYNC_FAILED", error_message="down")
        await repo.edge.finish_purge(created["id"], "failed", utc_now())
        found = await repo.edge.purge(created["id"])
        assert found is not None and found["status"] == "failed" and found["attempts"] == 1
        assert found["results"][0]["error_code"] == "CDN_SYNC_FAILED"
        assert found["results"][1]["urls_purged"] == 1
        assert await repo.edge.purge(str(uuid.uuid4())) is None
        later = utc_now() + timedelta(minutes=2)
        assert created["id"] in await repo.edge.due_purges(later, FAR)
        assert created["id"] not in await repo.edge.due_purges(utc_now(), FAR)
        await repo.edge.finish_purge(created["id"], "completed", later)
        assert created["id"] not in await repo.edge.due_purges(later + DAY, FAR)
        done = await repo.edge.purge(created["id"])
        assert done is not None and done["completed_at"] == later


async def test_cache_entries_of_existing_files_are_stamped(db: Database, user: str) -> None:
    file = await insert(db, user)
    url = CachedUrl(file["id"], "https://cdn/files/a", "/files/a")
    async with db.connection() as repo:
        await repo.edge.record_cache_purge("varnish", [url], utc_now())
        await repo.edge.record_cache_purge("varnish", [url], utc_now())  # an upsert
        await repo.edge.record_cache_purge(
            "varnish", [CachedUrl(str(uuid.uuid4()), "https://cdn/files/b", "/files/b")],
            utc_now())  # a file that is gone: skipped, no error


async def test_variants_resolve_through_completed_transformations(db: Database,
                                                                   user: str) -> None:
    source, other = await insert(db, user), await insert(db, user)
    old_thumb, thumb = await insert(db, user), await insert(db, user)
    preview, failed = await insert(db, user), await insert(db, user)
    add_transformation(db, source["id"], old_thumb["id"], "thumbnail_generation",
                       completed_ago=DAY)
    add_transformation(db, source["id"], thumb["id"], "thumbnail_generation")
    add_transformation(db, source["id"], preview["id"], "image_resize",
                       params={"variant": "preview"})
    add_transformation(db, source["id"], failed["id"], "thumbnail_generation",
                       status="failed")
    add_transformation(db, source["id"], None, "text_extraction")
    async with db.connection() as repo:
        assert await repo.edge.variants([source["id"], other["id"]]) == {
            source["id"]: {"thumbnail": thumb["id"], "preview": preview["id"]}}
        assert await repo.edge.variants([]) == {}
        assert await repo.edge.variant_sources(thumb["id"]) == [(source["id"], "thumbnail")]
        assert await repo.edge.variant_sources(other["id"]) == []
        assert await repo.edge.owned(user, [source["id"], other["id"]]) == {
            source["id"], other["id"]}
        assert await repo.edge.owned(f"{user}-x", [source["id"]]) == set()
