"""The database contract: the fake (tests/fakes/database.py) and PostgreSQL answer the same.

Each test works with users and paths of its own (the PostgreSQL database is the session's),
and filters what it reads back to them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shared.aio import close_loop_resources
from shared.context import utc_now
from shared.db import FILE_COLUMNS, Database, DuplicateKey, FileListing, Repository, Row
from shared.db.pg import PostgresDatabase
from shared.settings import Settings
from tests.fakes.database import FakeDatabase

pytestmark = pytest.mark.anyio
FAR = 10_000  # limits large enough to see this test's rows among the session's


@pytest.fixture(params=["fake", "postgres"])
async def db(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if request.param == "fake":
        yield FakeDatabase()
        return
    settings: Settings = request.getfixturevalue("stack_settings")
    yield PostgresDatabase(settings.database_url, pool_max=2)
    await close_loop_resources()


@pytest.fixture
def user() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


def values(user: str, name: str = "a.txt", **extra: Any) -> Row:
    file_id = str(uuid.uuid4())
    return {"id": file_id, "user_id": user, "original_name": name,
            "file_path": f"users/{user}/{file_id}.txt", "file_type": "document",
            "mime_type": "text/plain", "size_bytes": 10, "checksum_md5": "0" * 32,
            "checksum_sha256": hashlib.sha256(file_id.encode()).hexdigest(), **extra}


async def insert(db: Database, user: str, name: str = "a.txt", **extra: Any) -> Row:
    async with db.transaction() as repo:
        return await repo.files.insert(values(user, name, **extra))


async def test_insert_returns_every_column_with_defaults(db: Database, user: str) -> None:
    row = await insert(db, user, tags=["x"], custom_fields={"k": [1, "v"]},
                       encryption={"scheme": "s", "key_id": "k"})
    assert set(row) == set(FILE_COLUMNS)
    assert (row["storage_provider"], row["storage_tier"], row["is_public"]) == \
        ("azure_blob", "hot", False)
    assert row["tags"] == ["x"] and row["custom_fields"] == {"k": [1, "v"]}
    assert row["encryption"] == {"scheme": "s", "key_id": "k"}
    assert row["created_at"].tzinfo is not None and row["deleted_at"] is None
    async with db.connection() as repo:
        assert await repo.files.get(row["id"]) == row
        assert await repo.files.get(str(uuid.uuid4())) is None
        await repo.ping()


async def test_one_live_file_per_owner_and_content(db: Database, user: str) -> None:
    first = await insert(db, user)
    same = {"checksum_sha256": first["checksum_sha256"]}
    with pytest.raises(DuplicateKey):
        await insert(db, user, **same)
    await insert(db, f"{user}-other", **same)  # another owner may
    async with db.connection() as repo:
        assert await repo.files.live_duplicate(user, first["checksum_sha256"]) == first["id"]
        await repo.files.update(first["id"], {"deleted_at": utc_now()})
        assert await repo.files.live_duplicate(user, first["checksum_sha256"]) is None
    second = await insert(db, user, **same)  # the first is in the trash
    async with db.connection() as repo:
        with pytest.raises(DuplicateKey):  # restoring it would make two live copies
            await repo.files.update(first["id"], {"deleted_at": None})
        await repo.files.delete(second["id"])


async def test_a_failed_transaction_leaves_nothing(db: Database, user: str) -> None:
    file = values(user)
    with pytest.raises(RuntimeError):
        async with db.transaction() as repo:
            assert await repo.usage.reserve(user, 10, None) == 10
            await repo.files.insert(file)
            await repo.backups.add_pending(file["id"], file["file_path"])
            raise RuntimeError("refused after the writes")
    async with db.connection() as repo:
        assert await repo.files.get(file["id"]) is None
        assert await repo.usage.used_bytes(user) == 0
        assert await repo.backups.source(file["file_path"]) is None


async def test_connection_statements_stand_on_their_own(db: Database, user: str) -> None:
    with pytest.raises(RuntimeError):
        async with db.connection() as repo:
            await repo.usage.reserve(user, 10, None)
            raise RuntimeError("after the statement")
    async with db.connection() as repo:
        assert await repo.usage.used_bytes(user) == 10


async def _names(repo: Repository, **listing: Any) -> list[str]:
    return [r["original_name"] for r in (await repo.files.page(FileListing(**listing))).rows]


async def test_listing(db: Database, user: str) -> None:
    await insert(db, user, "bravo", size_bytes=30, project_id="p1", tags=["draft"])
    await insert(db, user, "alpha", size_bytes=10, project_id="p2", description="50%_off")
    await insert(db, user, "charlie", size_bytes=20, project_id="p1", file_type="image")
    await insert(db, f"{user}-other", "delta")
    trashed = await insert(db, user, "echo")
    async with db.connection() as repo:
        await repo.files.update(trashed["id"], {"deleted_at": utc_now()})
        assert await _names(repo, owner=user, sort="original_name", descending=False) == \
            ["alpha", "bravo", "charlie"]
        assert await _names(repo, owner=user, sort="size_bytes") == \
            ["bravo", "charlie", "alpha"]
        assert await _names(repo, owner=user, sort="original_name", project_id="p1") == \
            ["charlie", "bravo"]
        assert await _names(repo, owner=user, file_type="image") == ["charlie"]
        assert await _names(repo, owner=user, search="ALP") == ["alpha"]
        assert await _names(repo, owner=user, search="draft") == ["bravo"]
        assert await _names(repo, owner=user, search="0%_") == ["alpha"]
        assert await _names(repo, owner=user, search="%") == ["alpha"]  # literal
        assert await _names(repo, owner=user, search="_") == ["alpha"]
        assert await _names(repo, owner=user, trashed=True) == ["echo"]
        found = await repo.files.page(FileListing(
            owner=user, sort="original_name", descending=False, limit=2, offset=2))
        assert [r["original_name"] for r in found.rows] == ["charlie"] and found.total == 3
        assert set(found.rows[0]) == set(FILE_COLUMNS)
        assert not found.more and not found.total_is_estimate
        found = await repo.files.page(FileListing(owner=user, offset=10))
        assert found.rows == [] and found.total == 3 and not found.more
        everyone = await repo.files.page(FileListing(owner=None, search=user, limit=100))
        assert everyone.rows == []  # ids are not searched, names are


async def test_a_listing_with_now_leaves_out_expired_files(db: Database, user: str) -> None:
    now = utc_now()
    await insert(db, user, "forever")
    await insert(db, user, "later", expires_at=now + timedelta(hours=1))
    await insert(db, user, "gone", expires_at=now - timedelta(seconds=1))
    await insert(db, user, "exactly", expires_at=now)
    async with db.connection() as repo:
        assert await _names(repo, owner=user, sort="original_name", descending=False,
                            now=now) == ["forever", "later"]
        page = await repo.files.page(FileListing(owner=user, now=now))
        assert len(page.rows) == 2
        assert len(await _names(repo, owner=user)) == 4  # without now: every row


async def test_ties_are_ordered_by_id(db: Database, user: str) -> None:
    ids = [(await insert(db, user, "same", size_bytes=5))["id"] for _ in range(3)]
    async with db.connection() as repo:
        rows = (await repo.files.page(FileListing(owner=user, sort="size_bytes",
                                                  descending=False))).rows
        assert [r["id"] for r in rows] == sorted(ids)
        rows = (await repo.files.page(FileListing(owner=user, sort="size_bytes"))).rows
        assert [r["id"] for r in rows] == sorted(ids, reverse=True)


async def test_update_touch_metadata_and_delete(db: Database, user: str) -> None:
    row = await insert(db, user)
    async with db.connection() as repo:
        updated = await repo.files.update(row["id"], {"is_public": True, "tags": ["t"],
                                                      "custom_fields": {"a": 1}})
        assert updated["is_public"] and updated["tags"] == ["t"]
        assert updated["custom_fields"] == {"a": 1}
        assert updated["updated_at"] >= row["created_at"]
        seen = utc_now()
        await repo.maintenance.record_access({row["id"]: seen})
        assert (await repo.files.get(row["id"]) or {})["last_accessed_at"] == seen
        await repo.files.add_metadata(row["id"], "exif", {"w": 1})
        await repo.files.add_metadata(row["id"], "text", {"pages": 2})
        assert await repo.files.metadata_for([row["id"], str(uuid.uuid4())]) == \
            {row["id"]: {"exif": {"w": 1}, "text": {"pages": 2}}}
        assert await repo.files.metadata_for([]) == {}
        assert await repo.files.transformations_for(row["id"]) == []
        await repo.files.delete(row["id"])
        assert await repo.files.get(row["id"]) is None
        assert await repo.files.metadata_for([row["id"]]) == {}


async def test_due_for_removal(db: Database, user: str) -> None:
    now = utc_now()
    past, future = now - timedelta(days=1), now + timedelta(days=1)
    old_trash = await insert(db, user, deleted_at=past, recovery_deadline=past)
    await insert(db, user, deleted_at=past, recovery_deadline=future)
    expired = await insert(db, user, expires_at=past)
    await insert(db, user, expires_at=future)
    async with db.connection() as repo:
        mine = {r["id"] for r in (await repo.files.page(FileListing(owner=user))).rows}
        mine |= {r["id"] for r in (await repo.files.page(FileListing(owner=user,
                                                                     trashed=True))).rows}
        assert set(await repo.files.trashed_before(now, FAR)) & mine == {old_trash["id"]}
        assert set(await repo.files.expired_before(now, FAR)) & mine == {expired["id"]}


async def test_usage_reservations(db: Database, user: str) -> None:
    async with db.connection() as repo:
        assert await repo.usage.used_bytes(user) == 0
        assert await repo.usage.reserve(user, 60, 100) == 60
        assert await repo.usage.reserve(user, 50, 100) is None
        assert await repo.usage.reserve(user, 40, 100) == 100
        assert await repo.usage.reserve(user, 10**12, None) == 10**12 + 100
        await repo.usage.release(user, 10**12 + 150)
        assert await repo.usage.used_bytes(user) == 0  # never below zero
        await repo.usage.release(f"{user}-nobody", 5)  # nothing to release


async def test_backup_states(db: Database, user: str) -> None:
    row = await insert(db, user, storage_provider="aws_s3", encryption={"scheme": "s"})
    path = row["file_path"]
    async with db.connection() as repo:
        await repo.backups.add_pending(row["id"], path)
        await repo.backups.add_pending(row["id"], path)  # once only
        source = await repo.backups.source(path)
        assert source is not None and source.state == "pending"
        assert (source.storage_provider, source.mime_type, source.encrypted) == \
            ("aws_s3", "text/plain", True)
        assert source.checksum_sha256 == row["checksum_sha256"]
        assert await repo.backups.source(f"{path}-none") is None
        now = utc_now()
        assert path not in dict(await repo.backups.due(now, FAR))  # pending, but fresh
        assert dict(await repo.backups.due(now + timedelta(minutes=2), FAR))[path] == "pending"
        await repo.backups.record(path, "failed", attempted=True, error="down")
        assert path not in dict(await repo.backups.due(utc_now(), FAR))  # backing off
        assert dict(await repo.backups.due(now + timedelta(seconds=45), FAR))[path] == "failed"
        await repo.backups.record(path, "done", attempted=True, key=path, etag="e",
                                  sha256="s")
        await repo.backups.record(path, "done", etag=None)  # None keeps the etag
        assert path not in dict(await repo.backups.due(now + timedelta(hours=1), FAR))
        await repo.backups.forget(path)  # only delete_pending records are forgotten
        assert await repo.backups.source(path) is not None
        await repo.backups.mark_for_deletion(path)
        await repo.backups.record(path, "done")  # never over delete_pending
        assert dict(await repo.backups.due(now, FAR))[path] == "delete_pending"
        await repo.files.delete(row["id"])
        gone = await repo.backups.source(path)
        assert gone is not None and gone.storage_provider is None
        await repo.backups.forget(path)
        assert await repo.backups.source(path) is None
