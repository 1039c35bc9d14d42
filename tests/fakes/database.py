"""An in-memory ``Database`` with the PostgreSQL repository's behaviour, for unit tests.

Units of work are serialised (one at a time, like a database with a single connection):
``transaction()`` works on a copy of the tables and swaps it in when the block ends
without an exception, so a failure rolls everything back; ``connection()`` applies each
call at once. ``fail_commit`` makes the next transaction fail at its commit, after its
block ran (as a lost connection would). Held to tests/contract/test_repository_contract.py.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.context import Clock, utc_now
from shared.db import (
    FILE_COLUMNS,
    SESSION_COLUMNS,
    BackupSource,
    BackupState,
    DuplicateKey,
    FileListing,
    FilePage,
    Row,
)
from tests.fakes.lifecycle_tables import FakeEdge, FakeMaintenance
from tests.fakes.processing import FakeProcessing

_DEFAULTS: Row = {
    "project_id": None, "storage_provider": "azure_blob", "storage_tier": "hot",
    "encryption_key_id": None, "is_public": False, "expires_at": None, "deleted_at": None,
    "description": None, "tags": [], "custom_fields": {}, "auto_transform": False,
    "recovery_deadline": None, "last_accessed_at": None, "stored_size_bytes": None,
    "encryption": None, "tier_changed_at": None, "rehydration_requested_at": None,
    "integrity_checked_at": None,
}


@dataclass
class Tables:
    files: dict[str, Row] = field(default_factory=dict)
    metadata: list[tuple[str, str, Row]] = field(default_factory=list)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    backups: dict[str, Row] = field(default_factory=dict)
    # what shared/db/maintenance.py and shared/db/edge.py reach (tests/fakes/lifecycle_tables.py)
    transformations: list[Row] = field(default_factory=list)
    purges: dict[str, Row] = field(default_factory=dict)
    cdn_cache: dict[tuple[str, str, str], Row] = field(default_factory=dict)
    reports: list[Row] = field(default_factory=list)
    sessions: dict[str, Row] = field(default_factory=dict)
    parts: dict[tuple[str, int], Row] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # file_texts (search)


class FakeFiles:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._t = tables
        self._clock = clock

    def _check_unique(self, row: Row) -> None:
        for other in self._t.files.values():
            if other["id"] == row["id"]:
                continue
            if other["file_path"] == row["file_path"]:
                raise DuplicateKey("file_path")
            if (row["deleted_at"] is None and other["deleted_at"] is None
                    and (other["user_id"], other["checksum_sha256"])
                    == (row["user_id"], row["checksum_sha256"])):
                raise DuplicateKey("uq_files_owner_sha256_live")

    async def insert(self, values: Row) -> Row:
        unknown = set(values) - set(FILE_COLUMNS)
        if unknown:
            raise KeyError(f"no such columns: {sorted(unknown)}")
        now = self._clock()
        row = {**copy.deepcopy(_DEFAULTS), "id": str(uuid.uuid4()), "created_at": now,
               "updated_at": now, **copy.deepcopy(values)}
        row["id"] = str(row["id"])
        if row["id"] in self._t.files:
            raise DuplicateKey("files_pkey")
        self._check_unique(row)
        self._t.files[row["id"]] = row
        return copy.deepcopy(row)

    async def get(self, file_id: str, *, for_update: bool = False) -> Row | None:
        row = self._t.files.get(file_id)
        return copy.deepcopy(row) if row else None

    async def live_duplicate(self, user_id: str, sha256: str) -> str | None:
        for row in self._t.files.values():
            if (row["user_id"], row["checksum_sha256"]) == (user_id, sha256) \
                    and row["deleted_at"] is None:
                return str(row["id"])
        return None

    def _matches(self, row: Row, listing: FileListing) -> bool:
        if (row["deleted_at"] is not None) != listing.trashed:
            return False
        if listing.owner is not None and row["user_id"] != listing.owner:
            return False
        if listing.now is not None and row["expires_at"] is not None \
                and row["expires_at"] <= listing.now:
            return False
        if listing.project_id and row["project_id"] != listing.project_id:
            return False
        if listing.file_type and row["file_type"] != listing.file_type:
            return False
        if listing.search:
            needle = listing.search.lower()
            haystacks = (row["original_name"], row["description"] or "", " ".join(row["tags"]))
            words = set(self._t.texts.get(row["id"], "").lower().split())  # full-text, roughly
            return any(needle in text.lower() for text in haystacks) or needle in words
        return True

    async def page(self, listing: FileListing) -> FilePage:
        found = [r for r in self._t.files.values() if self._matches(r, listing)]
        found.sort(key=lambda r: (r[listing.sort], r["id"]), reverse=listing.descending)
        rest = found
        if listing.after is not None:
            after = (listing.after[0], str(uuid.UUID(listing.after[1])))
            rest = [r for r in found if ((r[listing.sort], r["id"]) < after
                                         if listing.descending
                                         else (r[listing.sort], r["id"]) > after)]
        page = rest[listing.offset:listing.offset + listing.limit]
        more = len(rest) > listing.offset + listing.limit
        # PostgreSQL counts filtered listings up to count_up_to, then estimates (unless the
        # page shows the whole listing)
        seen_all = listing.after is None and not more and bool(page or listing.offset == 0)
        estimate = listing.filtered and len(found) > listing.count_up_to and not seen_all
        return FilePage(rows=copy.deepcopy(page), more=more, total=len(found),
                        total_is_estimate=estimate)

    async def update(self, file_id: str, changes: Row) -> Row:
        row = {**self._t.files[file_id], **copy.deepcopy(changes), "updated_at": self._clock()}
        self._check_unique(row)
        self._t.files[file_id] = row
        return copy.deepcopy(row)

    async def delete(self, file_id: str) -> None:
        self._t.files.pop(file_id, None)
        self._t.metadata[:] = [m for m in self._t.metadata if m[0] != file_id]
        self._t.transformations[:] = [  # ON DELETE CASCADE, both ways
            t for t in self._t.transformations
            if file_id not in (t["source_file_id"], t["target_file_id"])]
        for key in [k for k in self._t.cdn_cache if k[0] == file_id]:
            del self._t.cdn_cache[key]

    async def add_metadata(self, file_id: str, metadata_type: str, metadata: Row) -> None:
        if file_id not in self._t.files:
            raise KeyError(f"no file {file_id}")  # the foreign key
        self._t.metadata.append((file_id, metadata_type, copy.deepcopy(metadata)))

    async def metadata_for(self, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        grouped: dict[str, dict[str, Any]] = {}
        for file_id, kind, metadata in self._t.metadata:
            if file_id in file_ids:
                grouped.setdefault(file_id, {})[kind] = copy.deepcopy(metadata)
        return grouped

    async def transformations_for(self, file_id: str) -> list[Row]:
        return []  # no transformations exist before the processing pipeline

    async def trashed_before(self, now: datetime, limit: int) -> list[str]:
        return [r["id"] for r in self._t.files.values() if r["deleted_at"] is not None
                and r["recovery_deadline"] is not None and r["recovery_deadline"] < now][:limit]

    async def expired_before(self, now: datetime, limit: int) -> list[str]:
        return [r["id"] for r in self._t.files.values()
                if r["expires_at"] is not None and r["expires_at"] < now][:limit]


class FakeUsage:
    def __init__(self, tables: Tables) -> None:
        self._t = tables

    async def used_bytes(self, user_id: str) -> int:
        return self._t.usage.get(user_id, {}).get("used_bytes", 0)

    async def reserve(self, user_id: str, size: int, quota: int | None) -> int | None:
        usage = self._t.usage.setdefault(user_id, {"used_bytes": 0, "file_count": 0})
        if quota is not None and usage["used_bytes"] + size > quota:
            return None
        usage["used_bytes"] += size
        usage["file_count"] += 1
        return usage["used_bytes"]

    async def release(self, user_id: str, size: int) -> None:
        usage = self._t.usage.get(user_id)
        if usage is not None:
            usage["used_bytes"] = max(usage["used_bytes"] - size, 0)
            usage["file_count"] = max(usage["file_count"] - 1, 0)


class FakeBackups:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._t = tables
        self._clock = clock

    async def add_pending(self, file_id: str, path: str) -> None:
        now = self._clock()
        self._t.backups.setdefault(path, {
            "file_path": path, "file_id": file_id, "state": "pending", "backup_key": None,
            "backup_etag": None, "checksum_sha256": None, "attempts": 0, "last_error": None,
            "created_at": now, "updated_at": now})

    async def mark_for_deletion(self, path: str) -> None:
        if path in self._t.backups:
            self._t.backups[path].update(state="delete_pending", updated_at=self._clock())

    async def source(self, path: str) -> BackupSource | None:
        record = self._t.backups.get(path)
        if record is None:
            return None
        file = self._t.files.get(record["file_id"])
        return BackupSource(
            file_path=path, file_id=record["file_id"], state=record["state"],
            storage_provider=file["storage_provider"] if file else None,
            mime_type=file["mime_type"] if file else None,
            checksum_sha256=file["checksum_sha256"] if file else None,
            encrypted=bool(file and file["encryption"] is not None))

    async def record(self, path: str, state: BackupState, *, attempted: bool = False,
                     key: str | None = None, etag: str | None = None,
                     sha256: str | None = None, error: str | None = None) -> None:
        record = self._t.backups.get(path)
        if record is None or record["state"] == "delete_pending":
            return
        for column, value in (("backup_key", key), ("backup_etag", etag),
                              ("checksum_sha256", sha256)):
            if value is not None:
                record[column] = value
        record.update(state=state, attempts=record["attempts"] + int(attempted),
                      last_error=error, updated_at=self._clock())

    async def due(self, now: datetime, limit: int) -> list[tuple[str, BackupState]]:
        def is_due(r: Row) -> bool:
            if r["state"] == "failed":
                return bool(r["updated_at"] < now - min(r["attempts"], 10) * timedelta(seconds=30))
            if r["state"] == "pending":
                return bool(r["updated_at"] < now - timedelta(minutes=1))
            return bool(r["state"] == "delete_pending")

        due = sorted((r for r in self._t.backups.values() if is_due(r)),
                     key=lambda r: r["updated_at"])
        return [(r["file_path"], r["state"]) for r in due[:limit]]

    async def forget(self, path: str) -> None:
        if self._t.backups.get(path, {}).get("state") == "delete_pending":
            del self._t.backups[path]


_SESSION_DEFAULTS: Row = {
    "state": "open", "ended_reason": None, "mime_type": None, "staging_handle": "",
    "reserved_bytes": 0, "metadata": {}, "checksum_sha256": None, "encryption": None,
    "hashed_bytes": 0, "received_bytes": 0, "parts_received": 0, "next_block": 1,
    "carry": None, "carry_length": 0, "completed_at": None,
}


class FakeSessions:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._t = tables
        self._clock = clock

    async def create(self, values: Row) -> Row:
        unknown = set(values) - set(SESSION_COLUMNS)
        if unknown:
            raise KeyError(f"no such columns: {sorted(unknown)}")
        now = self._clock()
        row = {**copy.deepcopy(_SESSION_DEFAULTS), "created_at": now, "updated_at": now,
               **copy.deepcopy(values)}
        row["id"], row["file_id"] = str(row["id"]), str(row["file_id"])
        if any(other["id"] == row["id"] or other["file_id"] == row["file_id"]
               or other["file_path"] == row["file_path"] for other in self._t.sessions.values()):
            raise DuplicateKey("upload_sessions")
        self._t.sessions[row["id"]] = row
        return copy.deepcopy(row)

    async def get(self, session_id: str, *, for_update: bool = False) -> Row | None:
        row = self._t.sessions.get(session_id)
        return copy.deepcopy(row) if row else None

    async def update(self, session_id: str, changes: Row, *, expect: Row | None = None
                     ) -> Row | None:
        row = self._t.sessions.get(session_id)
        if row is None or any(row[k] != v for k, v in (expect or {}).items()):
            return None
        row.update(copy.deepcopy(changes), updated_at=self._clock())
        return copy.deepcopy(row)

    async def add_part(self, session_id: str, part: Row) -> bool:
        key = (session_id, part["part_no"])
        if key in self._t.parts or session_id not in self._t.sessions:
            return False
        self._t.parts[key] = copy.deepcopy(part)
        session = self._t.sessions[session_id]
        session["received_bytes"] += part["plain_length"]
        session["parts_received"] += 1
        session["updated_at"] = self._clock()
        return True

    async def part(self, session_id: str, part_no: int) -> Row | None:
        return copy.deepcopy(self._t.parts.get((session_id, part_no)))

    async def parts(self, session_id: str) -> list[Row]:
        return [copy.deepcopy(part) for (sid, _), part in sorted(self._t.parts.items())
                if sid == session_id]

    async def expired(self, now: datetime, limit: int) -> list[str]:
        due = sorted((r for r in self._t.sessions.values()
                      if r["state"] == "open" and r["expires_at"] < now),
                     key=lambda r: r["expires_at"])
        return [r["id"] for r in due[:limit]]

    async def purge_ended(self, before: datetime, limit: int) -> int:
        ended = [sid for sid, r in self._t.sessions.items()
                 if r["state"] != "open" and r["updated_at"] < before][:limit]
        for sid in ended:
            del self._t.sessions[sid]
            for key in [k for k in self._t.parts if k[0] == sid]:
                del self._t.parts[key]
        return len(ended)


class FakeRepository:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self.files = FakeFiles(tables, clock)
        self.usage = FakeUsage(tables)
        self.backups = FakeBackups(tables, clock)
        self.maintenance = FakeMaintenance(tables, clock)
        self.edge = FakeEdge(tables, clock)
        self.sessions = FakeSessions(tables, clock)
        self.processing = FakeProcessing(tables, clock)

    async def ping(self) -> None:
        return None


class FakeDatabase:
    def __init__(self, clock: Clock = utc_now) -> None:
        self.tables = Tables()
        self.clock = clock
        self.fail_commit: BaseException | None = None
        self.transactions = 0  # committed ones
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self.held: set[str] = set()  # names held through exclusive()

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            raise RuntimeError("a unit of work inside another one would wait for itself")
        async with self._lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[FakeRepository]:
        async with self._unit():
            yield FakeRepository(self.tables, self.clock)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeRepository]:
        async with self._unit():
            working = copy.deepcopy(self.tables)
            yield FakeRepository(working, self.clock)
            if self.fail_commit is not None:
                error, self.fail_commit = self.fail_commit, None
                raise error
            self.tables = working
            self.transactions += 1

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        if name in self.held:
            yield False
            return
        self.held.add(name)
        try:
            yield True
        finally:
            self.held.discard(name)
