"""The processing pipeline's view of the tables (``repo.processing``): transformations as the
queue worker claims, runs and ends them, the variants that follow their source, and the text
extracted from documents for search.

Statuses: ``queued`` -> ``processing`` -> ``completed`` | ``failed``. A claim is a
conditional UPDATE (queued, or processing with a heartbeat older than ``stale_before``), so
a message delivered twice does the work once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

Row = dict[str, Any]

OPEN = ("queued", "processing")
# How much extracted text goes into the search vector (PostgreSQL caps a tsvector at 1 MB).
MAX_INDEXED_CHARS = 200_000


class ProcessingRepository(Protocol):
    async def file_by_path(self, path: str, *, for_update: bool = False) -> Row | None:
        """The ``files`` row whose object is ``path`` (the blob trigger knows only that)."""
        ...

    async def has_metadata(self, file_id: str, metadata_type: str) -> bool: ...

    async def create(self, values: Row) -> Row:
        """Insert a transformation (status ``queued``); returns it as ``get`` does."""
        ...

    async def get(self, transform_id: str) -> Row | None:
        """``transform_id`` must be a UUID string."""
        ...

    async def queue_position(self, transform_id: str) -> int:
        """1 + the open transformations created before this one."""
        ...

    async def summaries(self, source_id: str) -> list[Row]:
        """The file's transformations as GET /files/{id} lists them, oldest first."""
        ...

    async def claim(self, transform_id: str, stale_before: datetime) -> Row | None:
        """Set ``processing`` (one more attempt) if queued, or processing with a heartbeat
        before ``stale_before``; the row, or None when someone else has it or it ended."""
        ...

    async def heartbeat(self, transform_id: str, progress: int | None = None) -> None: ...

    async def release(self, transform_id: str, error: str) -> None:
        """Back to ``queued`` after a failed attempt (the queue delivers it again)."""
        ...

    async def finish(self, transform_id: str, *, status: str, target_file_id: str | None = None,
                     owns_target: bool = False, result: Row | None = None,
                     error_code: str | None = None, error_message: str | None = None) -> bool:
        """End an open transformation; False if it had already ended."""
        ...

    async def cancel_for_source(self, source_id: str, reason: str) -> int:
        """End the source's open transformations as failed (it was trashed or deleted)."""
        ...

    async def variants(self, source_id: str) -> list[Row]:
        """``files`` rows of the variants this source's transformations made."""
        ...

    async def stale(self, stale_before: datetime, limit: int) -> list[Row]:
        """Open transformations with no sign of life since ``stale_before``: processing ones
        whose worker died, queued ones whose message was lost."""
        ...

    async def requeue(self, transform_id: str) -> None:
        """Back to ``queued`` with a fresh heartbeat (a new message is on its way)."""
        ...

    async def undescribed(self, before: datetime, limit: int) -> list[str]:
        """Paths of live files created before ``before`` that have no ``extraction``
        metadata (a lost blob event, an S3 primary, files older than the pipeline), newest
        first: the files their owners are looking at now."""
        ...

    async def set_text(self, file_id: str, text: str) -> None:
        """Index ``text`` (its first ``MAX_INDEXED_CHARS``) for search; replaces any."""
        ...
