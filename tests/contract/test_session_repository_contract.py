"""The upload sessions repository: the fake and PostgreSQL answer the same."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared.context import utc_now
from shared.crypto.hashstate import FileHashes
from shared.db import SESSION_COLUMNS, Database, Row
from tests.contract import test_repository_contract

db = test_repository_contract.db
user = test_repository_contract.user

pytestmark = pytest.mark.anyio


def values(user: str, **extra: object) -> Row:
    file_id = str(uuid.uuid4())
    return {"id": str(uuid.uuid4()), "file_id": file_id, "user_id": user, "protocol": "chunks",
            "original_name": "a.png", "declared_type": "image/png",
            "file_path": f"users/{user}/{file_id}.png", "storage_provider": "azure_blob",
            "file_size": 300, "chunk_size": 100, "total_chunks": 3, "reserved_bytes": 300,
            "metadata": {"tags": ["x"]}, "hash_state": FileHashes().export(),
            "expires_at": utc_now() + timedelta(hours=1), **extra}


def part(no: int, length: int = 100) -> Row:
    return {"part_no": no, "plain_offset": (no - 1) * 100, "plain_length": length,
            "checksum_md5": f"{no:032d}", "blocks": [f"b{no}a", f"b{no}b"]}


async def test_create_and_get_every_column(db: Database, user: str) -> None:
    async with db.transaction() as repo:
        created = await repo.sessions.create(values(user))
    async with db.connection() as repo:
        found = await repo.sessions.get(created["id"])
    assert found is not None and set(found) == set(SESSION_COLUMNS)
    assert (found["state"], found["received_bytes"], found["carry"]) == ("open", 0, None)
    assert found["metadata"] == {"tags": ["x"]}
    assert FileHashes.resume(found["hash_state"]).length == 0


async def test_parts_are_held_once_and_counted(db: Database, user: str) -> None:
    async with db.transaction() as repo:
        session = await repo.sessions.create(values(user))
    async with db.transaction() as repo:
        assert await repo.sessions.add_part(session["id"], part(3, 50))
        assert await repo.sessions.add_part(session["id"], part(1))
        assert not await repo.sessions.add_part(session["id"], part(1, 7))
    async with db.connection() as repo:
        row = await repo.sessions.get(session["id"])
        parts = await repo.sessions.parts(session["id"])
        one = await repo.sessions.part(session["id"], 1)
    assert row is not None and (row["received_bytes"], row["parts_received"]) == (150, 2)
    assert [p["part_no"] for p in parts] == [1, 3] and parts[1]["blocks"] == ["b3a", "b3b"]
    assert one is not None and one["plain_length"] == 100


async def test_update_is_a_compare_and_set(db: Database, user: str) -> None:
    async with db.transaction() as repo:
        session = await repo.sessions.create(values(user))
    async with db.connection() as repo:
        done = await repo.sessions.update(session["id"], {"hashed_bytes": 100, "carry": b"xy",
                                                          "carry_length": 2},
                                          expect={"hashed_bytes": 0, "state": "open"})
        missed = await repo.sessions.update(session["id"], {"hashed_bytes": 200},
                                            expect={"hashed_bytes": 0})
    assert done is not None and (done["hashed_bytes"], done["carry"]) == (100, b"xy")
    assert missed is None


async def test_expired_and_purged(db: Database, user: str) -> None:
    now = utc_now()
    async with db.transaction() as repo:
        old = await repo.sessions.create(values(user, expires_at=now - timedelta(minutes=1)))
        fresh = await repo.sessions.create(values(user))
    async with db.connection() as repo:
        due = await repo.sessions.expired(now, 10_000)
        assert old["id"] in due and fresh["id"] not in due
        await repo.sessions.update(old["id"], {"state": "expired"})
        assert await repo.sessions.purge_ended(now + timedelta(seconds=5), 10_000) >= 1
        assert await repo.sessions.get(old["id"]) is None
        assert await repo.sessions.get(fresh["id"]) is not None


async def test_exclusive_is_held_by_one_at_a_time(db: Database) -> None:
    name = f"test-{uuid.uuid4()}"
    async with db.exclusive(name) as first, db.exclusive(name) as second:
        assert (first, second) == (True, False)
    async with db.exclusive(name) as again:
        assert again
