"""The tier and listing parts of the ObjectStore contract, on the memory store, Azurite and
moto S3: moving between tiers keeps the bytes and says where they are, an archived object
cannot be read until it is rehydrated (the local backends rehydrate at once, S3 in two steps:
restore, then copy back), and listing shows every committed object under a prefix."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from shared.storage import TIERS, ObjectArchived, ObjectNotFound, ObjectStore
from shared.storage.memory import MemoryStore
from tests.contract.test_object_store_contract import _put, _read, store

__all__ = ["store"]  # the parametrised fixture, shared with the main contract module
pytestmark = pytest.mark.anyio


async def _rehydrate(store: ObjectStore, key: str) -> None:
    """Ask for the hot tier until the store says the object is out of the archive (S3 needs
    a restore, then a copy; the others one call). Bounded: no store needs more than two."""
    for _ in range(3):
        await store.set_tier(key, "hot")
        info = await store.info(key)
        assert info is not None
        if info.tier == "hot":
            return
        assert info.archive_status in {"rehydrating", "restored"}
    raise AssertionError(f"{key} still archived")


async def test_a_new_object_is_hot(store: ObjectStore) -> None:
    await _put(store, "tiers/new", b"fresh")
    info = await store.info("tiers/new")
    assert info is not None and info.tier == "hot" and info.readable


@pytest.mark.parametrize("tier", ["cool", "cold"])
async def test_cool_and_cold_keep_the_bytes_readable(store: ObjectStore, tier: str) -> None:
    data = os.urandom(50_000)
    await _put(store, f"tiers/{tier}", data)
    await store.set_tier(f"tiers/{tier}", tier)  # type: ignore[arg-type]
    info = await store.info(f"tiers/{tier}")
    assert info is not None and info.tier == tier and info.archive_status is None
    assert await _read(store, f"tiers/{tier}", 100, 1000) == data[100:1100]
    assert info.content_type == "image/png"  # a tier move keeps the object's properties


async def test_archived_objects_are_unreadable_until_rehydrated(store: ObjectStore) -> None:
    data = os.urandom(20_000)
    await _put(store, "tiers/archived", data)
    await store.set_tier("tiers/archived", "archive")
    info = await store.info("tiers/archived")
    assert info is not None and info.tier == "archive" and not info.readable
    assert info.size == len(data)  # its properties stay readable
    with pytest.raises(ObjectArchived):
        await _read(store, "tiers/archived")
    await _rehydrate(store, "tiers/archived")
    assert await _read(store, "tiers/archived") == data


async def test_every_tier_in_turn(store: ObjectStore) -> None:
    await _put(store, "tiers/walk", b"walking down")
    for tier in TIERS:
        await store.set_tier("tiers/walk", tier)
        info = await store.info("tiers/walk")
        assert info is not None and info.tier == tier


async def test_tier_of_a_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        await store.set_tier("tiers/missing", "cool")


async def test_listing_by_prefix(store: ObjectStore) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    for key in ("list/a/1", "list/a/2", "list/b/1"):
        await _put(store, key, key.encode())
    staged = await store.writer("list/a/staged")  # never committed: not listed
    await staged.write(b"staged")
    listed = [item async for item in store.scan("list/a/")]
    assert [item.key for item in listed] == ["list/a/1", "list/a/2"]
    assert all(item.size == len(item.key) and item.last_modified > before for item in listed)
    assert {item.key async for item in store.scan()} >= {"list/a/1", "list/a/2", "list/b/1"}
    await staged.abort()


async def test_memory_store_can_hold_a_rehydration_pending() -> None:
    """As Azure does for hours: the unit tests of the pending state rely on it."""
    memory = MemoryStore()
    memory.slow_rehydration = True
    await _put(memory, "slow", b"cold bytes")
    await memory.set_tier("slow", "archive")
    await memory.set_tier("slow", "hot")
    info = await memory.info("slow")
    assert info is not None and info.tier == "archive" and info.archive_status == "rehydrating"
    memory.finish_rehydration("slow")
    assert await _read(memory, "slow") == b"cold bytes"
