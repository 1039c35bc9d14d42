"""The lifecycle's view of the tables (``repo.maintenance``): last access, tiers, integrity
checks, and the rows the reconciliation walks beside the stores' listings.

Rows walked "in byte order" are ordered the way object stores list keys (PostgreSQL's "C"
collation), so that a listing and the rows can be merged in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

Row = dict[str, Any]


@dataclass(frozen=True)
class TierThresholds:
    """A live file last used before ``cool`` belongs in cool, before ``cold`` in cold, before
    ``archive`` in the archive; one used since ``cool`` belongs in hot."""

    cool: datetime
    cold: datetime
    archive: datetime


class MaintenanceRepository(Protocol):
    async def record_access(self, accesses: Mapping[str, datetime]) -> None:
        """Each file's last access becomes the later of its own and the one given (one
        statement for the whole batch; unknown ids are ignored)."""
        ...

    async def bytes_by_tier(self, user_id: str) -> dict[str, int]:
        """Bytes of the user's stored files (live and in the trash) per storage tier."""
        ...

    async def tier_candidates(self, thresholds: TierThresholds, limit: int) -> list[Row]:
        """Live files, neither archived nor being rehydrated, whose tier is not the one their
        idle time calls for, most idle first: the file's row plus ``last_used``
        (its last access, else its creation)."""
        ...

    async def set_tier(self, file_id: str, tier: str, at: datetime, *,
                       rehydrating: bool = False) -> None:
        """Record the file's tier (not an update of the file: ``updated_at`` stays);
        ``rehydrating`` records that a rehydration was asked at ``at``, else clears it."""
        ...

    async def rehydrating(self, limit: int) -> list[Row]:
        """Rows of files whose rehydration was asked and not yet seen done."""
        ...

    async def verification_batch(self, limit: int) -> list[Row]:
        """Rows of files (live or trashed) whose bytes were checked longest ago, never
        checked first; archived files are left out (their bytes cannot be read)."""
        ...

    async def mark_verified(self, file_id: str, at: datetime) -> None: ...

    async def files_after(self, provider: str, after: str, limit: int) -> list[Row]:
        """Rows of files stored by ``provider`` whose path sorts after ``after``, in byte
        order."""
        ...

    async def backups_after(self, after: str, limit: int) -> list[Row]:
        """``file_backups`` records (file_path, file_id, state, checksum_sha256) whose path
        sorts after ``after``, in byte order."""
        ...

    async def backup_record(self, path: str) -> Row | None:
        """The ``file_backups`` record of ``path`` (the same columns as ``backups_after``)."""
        ...

    async def save_report(self, trigger: str, started_at: datetime, finished_at: datetime,
                          report: Row) -> None: ...

    async def last_report(self) -> Row | None:
        """The latest report: trigger, started_at, finished_at, report."""
        ...
