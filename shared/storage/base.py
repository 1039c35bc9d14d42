"""The one small interface every object store implements (Azure Blob, S3, memory).

Writers stream: bytes are sent in blocks/parts as they arrive and become visible only
on ``commit``; ``abort`` (or never committing) leaves no object behind. The same contract
tests (tests/contract/test_object_store_contract.py) run against every implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

# Access tiers, cheapest to store last. Every store maps them onto its own classes (Azure's
# blob tiers, S3's storage classes); leaving "archive" is a rehydration that may take hours.
Tier = Literal["hot", "cool", "cold", "archive"]
TIERS: tuple[Tier, ...] = ("hot", "cool", "cold", "archive")
# What a store says of an archived object: its rehydration is under way, or done (S3 keeps
# a restored copy readable beside the archived object until it is copied back).
ArchiveStatus = Literal["rehydrating", "restored"]


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    last_modified: datetime | None = None
    content_type: str | None = None
    tier: Tier | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    archive_status: ArchiveStatus | None = None

    @property
    def readable(self) -> bool:
        """Whether the bytes can be read now (an archived object must be rehydrated first)."""
        return self.tier != "archive" or self.archive_status == "restored"


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    last_modified: datetime


class ObjectWriter(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self, *, content_type: str, content_md5: bytes | None = None,
                     metadata: dict[str, str] | None = None) -> ObjectInfo: ...

    async def abort(self) -> None: ...


class ObjectStore(Protocol):
    """``name`` is the provider recorded on a file's row (``storage_provider``).

    Besides streaming writers, a store stages numbered blocks of an object across requests
    and processes (resumable uploads): ``begin_blocks`` once, ``stage_block`` for each block
    (any order, any instance, verified by its MD5), then ``commit_blocks`` with the
    references of the blocks to keep, in order; nothing is visible before that.
    """

    @property
    def name(self) -> str: ...

    @property
    def min_block_size(self) -> int:
        """The smallest block the store accepts, except the object's last one."""
        ...

    async def begin_blocks(self, key: str, *, content_type: str) -> str:
        """Start staging ``key``; returns the handle the other calls need ('' if none)."""
        ...

    async def stage_block(self, key: str, handle: str, number: int, data: bytes,
                          md5: bytes) -> str:
        """Stage block ``number`` (1-based) of ``key``, refused by the store unless ``md5``
        matches. Returns its reference for ``commit_blocks``; staging the same number
        again never changes what an earlier reference names (or makes it fail to commit)."""
        ...

    async def commit_blocks(self, key: str, handle: str, refs: list[str], *,
                            content_type: str, content_md5: bytes | None = None,
                            metadata: dict[str, str] | None = None) -> ObjectInfo:
        """Make the object of these blocks, in this order, visible (again: committing the
        same list twice is harmless)."""
        ...

    async def abort_blocks(self, key: str, handle: str) -> None:
        """Drop what was staged and not committed (as far as the store allows)."""
        ...

    async def ensure(self) -> None:
        """Create the container or bucket if it is missing (provisioning; idempotent)."""
        ...

    async def writer(self, key: str) -> ObjectWriter: ...

    def read(self, key: str, offset: int = 0, length: int | None = None
             ) -> AsyncIterator[bytes]:
        """The bytes ``offset .. offset+length-1`` (to the end when ``length`` is None);
        ``ObjectNotFound`` when the key names no object."""
        ...

    async def info(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    async def signed_url(self, key: str, *, expires_in: int, content_type: str | None = None,
                         content_disposition: str | None = None) -> str | None:
        """A short-lived read-only URL that serves the bytes with these response headers,
        or None when the store cannot sign one (then the service streams the bytes)."""
        ...

    async def set_tier(self, key: str, tier: Tier) -> None:
        """Move the object to ``tier``. Out of "archive" this starts a rehydration: the
        object stays archived (``info().archive_status``) until the store has finished it,
        at once locally, hours later in the cloud. ``ObjectNotFound`` for a missing key."""
        ...

    def scan(self, prefix: str = "") -> AsyncIterator[ListedObject]:
        """Every committed object whose key starts with ``prefix`` (reconciliation)."""
        ...

    async def probe(self) -> dict[str, object]: ...


class ObjectNotFound(Exception):
    """The key names no object."""


class ObjectArchived(Exception):
    """The object is in the archive tier: it must be rehydrated before it can be read."""


class UnknownStorageProvider(LookupError):
    """A file's row names a storage provider this instance is not configured for."""


@dataclass(frozen=True)
class Stores:
    """The primary store new files go to, and every store a file's row may name, so that
    files written before a change of ``PRIMARY_STORAGE`` stay readable."""

    primary: ObjectStore
    readable: Mapping[str, ObjectStore] = field(default_factory=dict)

    def named(self, provider: str) -> ObjectStore:
        if provider == self.primary.name:
            return self.primary
        store = self.readable.get(provider)
        if store is None:
            raise UnknownStorageProvider(provider)
        return store

    def of(self, row: Mapping[str, Any]) -> ObjectStore:
        """The store holding a file's bytes, from its row's ``storage_provider``."""
        return self.named(row["storage_provider"])
