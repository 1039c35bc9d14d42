"""The CDN's view of the tables (``repo.edge``): purge requests and each provider's part of
them, the spec's ``cdn_cache`` entries, and the variants (thumbnails, previews) that a file's
CDN URLs resolve to.

A variant is the output of a completed transformation of the file: ``thumbnail`` for a
``thumbnail_generation``, or whatever ``transformation_params.variant`` names (the processing
pipeline sets it for previews); the latest completed one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

Row = dict[str, Any]
PurgeStatus = Literal["queued", "processing", "completed", "failed"]


@dataclass(frozen=True)
class CachedUrl:
    """One URL of one file as the CDN caches it (``cache_key`` is its path)."""

    file_id: str
    url: str
    cache_key: str


class EdgeRepository(Protocol):
    async def create_purge(self, *, requested_by: str, reason: str, purge_type: str,
                           file_ids: Sequence[str], urls: Sequence[str],
                           providers: Sequence[str]) -> Row:
        """Record a purge (status ``queued``, one ``queued`` result per provider); returns
        it as ``purge`` does."""
        ...

    async def purge(self, purge_id: str) -> Row | None:
        """The request's columns, and ``results``: its providers' rows (provider, status,
        urls_purged, error_code, error_message), by provider."""
        ...

    async def start_purge(self, purge_id: str) -> None:
        """Status ``processing``, one more attempt."""
        ...

    async def set_result(self, purge_id: str, provider: str, status: PurgeStatus, *,
                         urls_purged: int = 0, error_code: str | None = None,
                         error_message: str | None = None) -> None: ...

    async def finish_purge(self, purge_id: str, status: PurgeStatus, at: datetime) -> None: ...

    async def due_purges(self, now: datetime, limit: int) -> list[str]:
        """Ids of purges to carry out again: queued or processing for over a minute (their
        message was lost, or its worker died), failed ones with a back-off of a minute per
        attempt, up to five attempts."""
        ...

    async def record_cache_purge(self, provider: str, entries: Sequence[CachedUrl],
                                 at: datetime) -> None:
        """Stamp (or create) the ``cdn_cache`` entries as purged at ``at``; entries of files
        that no longer exist are skipped."""
        ...

    async def variants(self, file_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """For each file that has some: {variant name: id of the file that holds it}."""
        ...

    async def variant_sources(self, target_id: str) -> list[tuple[str, str]]:
        """(source file id, variant name) of the files this one is a variant of."""
        ...

    async def owned(self, user_id: str, file_ids: Sequence[str]) -> set[str]:
        """Which of these files (live or trashed) belong to ``user_id``."""
        ...
