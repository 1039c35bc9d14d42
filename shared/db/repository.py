"""The database seen by the domain: a ``Database`` hands out units of work, each a
``Repository`` bound to one connection, and every SQL statement lives behind it.

``connection()`` runs each call on its own (autocommit); ``transaction()`` makes the whole
block one transaction, rolled back when the block raises: the caller decides the unit of
work (an upload reserves quota, inserts the row and records the backup state in one).
Implementations: PostgreSQL (``shared.db.pg``) and an in-memory fake for unit tests
(``tests/fakes/database.py``), held to the same contract tests.

Rows of ``files`` are plain dicts keyed by column name (``FILE_COLUMNS``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from shared.db.edge import EdgeRepository
from shared.db.maintenance import MaintenanceRepository
from shared.db.processing import ProcessingRepository

Row = dict[str, Any]
SortField = Literal["created_at", "updated_at", "original_name", "size_bytes", "file_type",
                    "mime_type"]
BackupState = Literal["pending", "done", "failed", "delete_pending"]

FILE_COLUMNS = (
    "id", "user_id", "project_id", "original_name", "file_path", "file_type", "mime_type",
    "size_bytes", "checksum_md5", "checksum_sha256", "storage_provider", "storage_tier",
    "encryption_key_id", "is_public", "expires_at", "created_at", "updated_at", "deleted_at",
    "description", "tags", "custom_fields", "auto_transform", "recovery_deadline",
    "last_accessed_at", "stored_size_bytes", "encryption",
    "tier_changed_at", "rehydration_requested_at", "integrity_checked_at",
)


SESSION_COLUMNS = (
    "id", "file_id", "user_id", "protocol", "state", "ended_reason", "original_name",
    "declared_type", "mime_type", "file_path", "storage_provider", "staging_handle",
    "file_size", "chunk_size", "total_chunks", "reserved_bytes", "metadata",
    "checksum_sha256", "encryption", "hashed_bytes", "hash_state", "received_bytes",
    "parts_received", "next_block", "carry", "carry_length", "created_at", "updated_at",
    "expires_at", "completed_at",
)
PART_COLUMNS = ("part_no", "plain_offset", "plain_length", "checksum_md5", "blocks")


class DuplicateKey(Exception):
    """A write would break a uniqueness rule (one live file per owner and content)."""


EXACT_TOTAL_UP_TO = 1000  # filtered listings are counted exactly up to this many rows


@dataclass(frozen=True)
class FileListing:
    """Which files to list: ``owner`` None means every owner (admins).

    ``after`` (keyset pagination) is the sort value and id of the last row already seen:
    the page starts right after it in this order (``offset`` still applies, from there).
    """

    owner: str | None
    trashed: bool = False
    project_id: str | None = None
    file_type: str | None = None
    search: str | None = None  # substring of name, description or a tag; word of its text
    sort: SortField = "created_at"
    descending: bool = True
    limit: int = 20
    offset: int = 0
    after: tuple[Any, str] | None = None
    count_up_to: int = EXACT_TOTAL_UP_TO
    # Files whose expires_at is at or before this instant are gone for readers (the timer
    # deletes them later); None lists them too.
    now: datetime | None = None
    # Files whose extracted text (file_texts) holds the searched words, found first by the
    # text index (shared/db/pg/listing.py); they match the search too.
    text_ids: tuple[str, ...] = ()

    @property
    def filtered(self) -> bool:
        return bool(self.project_id or self.file_type or self.search)


@dataclass(frozen=True)
class FilePage:
    """A page of a listing. ``more``: rows follow this page. ``total``: rows of the whole
    listing (not only after ``after``): exact for unfiltered listings and for filtered ones
    up to ``count_up_to`` rows; beyond, an estimate (``total_is_estimate``) of at least
    ``count_up_to + 1``."""

    rows: list[Row]
    more: bool
    total: int
    total_is_estimate: bool = False


@dataclass(frozen=True)
class BackupSource:
    """A backup record and what its copy needs from the file (None when the row is gone)."""

    file_path: str
    file_id: str
    state: BackupState
    storage_provider: str | None
    mime_type: str | None
    checksum_sha256: str | None
    encrypted: bool


class FileRepository(Protocol):
    async def insert(self, values: Row) -> Row:
        """Insert a file (``values`` by column; the rest take their defaults) and return the
        full row. ``DuplicateKey`` when the owner has a live file with the same SHA-256."""
        ...

    async def get(self, file_id: str, *, for_update: bool = False) -> Row | None:
        """``file_id`` must be a UUID string; ``for_update`` locks the row until the end of
        the transaction."""
        ...

    async def live_duplicate(self, user_id: str, sha256: str) -> str | None: ...

    async def page(self, listing: FileListing) -> FilePage:
        """One page, ordered by the sort field then id (same direction), and the total."""
        ...

    async def update(self, file_id: str, changes: Row) -> Row:
        """Set these columns (and ``updated_at``); ``DuplicateKey`` as for ``insert``."""
        ...

    async def delete(self, file_id: str) -> None:
        """Remove the row and what hangs off it (extracted metadata, transformations)."""
        ...

    async def add_metadata(self, file_id: str, metadata_type: str, metadata: Row) -> None: ...

    async def metadata_for(self, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Extracted metadata grouped by file, then by ``metadata_type``."""
        ...

    async def transformations_for(self, file_id: str) -> list[Row]: ...

    async def trashed_before(self, now: datetime, limit: int) -> list[str]:
        """Ids of trashed files whose recovery deadline has passed."""
        ...

    async def expired_before(self, now: datetime, limit: int) -> list[str]:
        """Ids of files (live or trashed) whose ``expires_at`` has passed."""
        ...


class UsageRepository(Protocol):
    async def used_bytes(self, user_id: str) -> int: ...

    async def reserve(self, user_id: str, size: int, quota: int | None) -> int | None:
        """Add ``size`` (and one file) to the user's usage if it fits ``quota`` (None:
        unlimited); the new usage, or None when it does not fit. Concurrent reservations
        cannot both squeeze past the quota."""
        ...

    async def release(self, user_id: str, size: int) -> None:
        """Take ``size`` and one file off the user's usage (never below zero)."""
        ...


class BackupRepository(Protocol):
    async def add_pending(self, file_id: str, path: str) -> None:
        """Record that ``path`` needs a copy (nothing if it is already recorded)."""
        ...

    async def mark_for_deletion(self, path: str) -> None: ...

    async def source(self, path: str) -> BackupSource | None: ...

    async def record(self, path: str, state: BackupState, *, attempted: bool = False,
                     key: str | None = None, etag: str | None = None,
                     sha256: str | None = None, error: str | None = None) -> None:
        """Set the state (never over ``delete_pending``); ``attempted`` counts an attempt;
        None leaves ``key``/``etag``/``sha256`` as they are, and clears ``error``."""
        ...

    async def due(self, now: datetime, limit: int) -> list[tuple[str, BackupState]]:
        """(path, state) of copies to retry (failed, after a back-off of 30 s per attempt up
        to 5 min; pending for over a minute) or to delete, oldest first."""
        ...

    async def forget(self, path: str) -> None:
        """Drop the record of a deleted copy (only while it is ``delete_pending``)."""
        ...


class UploadSessionRepository(Protocol):
    """Resumable upload sessions (rows by ``SESSION_COLUMNS``) and their accepted parts
    (``PART_COLUMNS``)."""

    async def create(self, values: Row) -> Row: ...

    async def get(self, session_id: str, *, for_update: bool = False) -> Row | None:
        """``session_id`` must be a UUID string."""
        ...

    async def update(self, session_id: str, changes: Row, *, expect: Row | None = None
                     ) -> Row | None:
        """Set ``changes`` (and ``updated_at``) if every column in ``expect`` still has that
        value (a compare-and-set); the new row, or None when it did not hold."""
        ...

    async def add_part(self, session_id: str, part: Row) -> bool:
        """Record an accepted part and count it on the session (``received_bytes``,
        ``parts_received``); False (and nothing changed) when ``part_no`` is already held."""
        ...

    async def part(self, session_id: str, part_no: int) -> Row | None: ...

    async def parts(self, session_id: str) -> list[Row]:
        """Every part, by ``part_no``."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[str]:
        """Ids of open sessions whose ``expires_at`` has passed."""
        ...

    async def purge_ended(self, before: datetime, limit: int) -> int:
        """Delete sessions that ended (completed, aborted, expired) before ``before``."""
        ...


class Repository(Protocol):
    """One unit of work's view of the database."""

    @property
    def files(self) -> FileRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    @property
    def backups(self) -> BackupRepository: ...

    @property
    def maintenance(self) -> MaintenanceRepository: ...

    @property
    def edge(self) -> EdgeRepository: ...

    @property
    def sessions(self) -> UploadSessionRepository: ...

    @property
    def processing(self) -> ProcessingRepository: ...

    async def ping(self) -> None:
        """A round trip to the database (health checks)."""
        ...


class Database(Protocol):
    def connection(self) -> AbstractAsyncContextManager[Repository]: ...

    def transaction(self) -> AbstractAsyncContextManager[Repository]: ...

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Try to hold the lock ``name`` across instances for the block: yields whether it
        was taken (never waits). It is released at the end of the block, or when the
        holder's process dies."""
        ...
