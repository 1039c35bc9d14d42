"""The fake database's ``maintenance`` and ``edge`` repositories (shared/db/maintenance.py,
shared/db/edge.py), on the fake's tables; held to the same contract tests as PostgreSQL."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.db.edge import CachedUrl, PurgeStatus
from shared.db.maintenance import TierThresholds

if TYPE_CHECKING:
    from tests.fakes.database import Tables

Row = dict[str, Any]


def _last_used(row: Row) -> datetime:
    used: datetime = row["last_accessed_at"] or row["created_at"]
    return used


def _misplaced(row: Row, t: TierThresholds) -> bool:
    used, tier = _last_used(row), row["storage_tier"]
    return ((tier == "hot" and used < t.cool)
            or (tier == "cool" and (used < t.cold or used >= t.cool))
            or (tier == "cold" and (used < t.archive or used >= t.cold)))


def _backup_columns(record: Row) -> Row:
    return {k: record[k] for k in ("file_path", "file_id", "state", "checksum_sha256")}


class FakeMaintenance:
    def __init__(self, tables: Tables, clock: Callable[[], datetime]) -> None:
        self._t = tables
        self._clock = clock

    async def record_access(self, accesses: Mapping[str, datetime]) -> None:
        for file_id, at in accesses.items():
            row = self._t.files.get(file_id)
            if row is not None:
                last = row["last_accessed_at"]
                row["last_accessed_at"] = at if last is None else max(last, at)

    async def bytes_by_tier(self, user_id: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        for row in self._t.files.values():
            if row["user_id"] == user_id:
                totals[row["storage_tier"]] = totals.get(row["storage_tier"], 0) \
                    + row["size_bytes"]
        return totals

    async def tier_candidates(self, thresholds: TierThresholds, limit: int) -> list[Row]:
        found = [r for r in self._t.files.values() if r["deleted_at"] is None
                 and r["rehydration_requested_at"] is None and _misplaced(r, thresholds)]
        found.sort(key=_last_used)
        return [{**copy.deepcopy(r), "last_used": _last_used(r)} for r in found[:limit]]

    async def set_tier(self, file_id: str, tier: str, at: datetime, *,
                       rehydrating: bool = False) -> None:
        row = self._t.files.get(file_id)
        if row is None:
            return
        if row["storage_tier"] != tier:
            row["tier_changed_at"] = at
        row["storage_tier"] = tier
        row["rehydration_requested_at"] = (row["rehydration_requested_at"] or at) \
            if rehydrating else None

    async def rehydrating(self, limit: int) -> list[Row]:
        found = [r for r in self._t.files.values() if r["rehydration_requested_at"]]
        found.sort(key=lambda r: r["rehydration_requested_at"])
        return copy.deepcopy(found[:limit])

    async def verification_batch(self, limit: int) -> list[Row]:
        found = [r for r in self._t.files.values() if r["storage_tier"] != "archive"]
        found.sort(key=lambda r: (r["integrity_checked_at"] is not None,
                                  r["integrity_checked_at"] or datetime.min, r["id"]))
        return copy.deepcopy(found[:limit])

    async def mark_verified(self, file_id: str, at: datetime) -> None:
        if file_id in self._t.files:
            self._t.files[file_id]["integrity_checked_at"] = at

    async def files_after(self, provider: str, after: str, limit: int) -> list[Row]:
        found = sorted((r for r in self._t.files.values()
                        if r["storage_provider"] == provider
                        and r["file_path"].encode() > after.encode()),
                       key=lambda r: r["file_path"].encode())
        return copy.deepcopy(found[:limit])

    async def backups_after(self, after: str, limit: int) -> list[Row]:
        found = sorted((r for r in self._t.backups.values()
                        if r["file_path"].encode() > after.encode()),
                       key=lambda r: r["file_path"].encode())
        return [_backup_columns(r) for r in found[:limit]]

    async def backup_record(self, path: str) -> Row | None:
        found = self._t.backups.get(path)
        return _backup_columns(found) if found else None

    async def save_report(self, trigger: str, started_at: datetime, finished_at: datetime,
                          report: Row) -> None:
        self._t.reports.append({"trigger": trigger, "started_at": started_at,
                                "finished_at": finished_at, "report": copy.deepcopy(report)})

    async def last_report(self) -> Row | None:
        if not self._t.reports:
            return None
        return copy.deepcopy(max(self._t.reports, key=lambda r: r["started_at"]))


def variant_of(transformation: Row) -> str | None:
    named = (transformation.get("transformation_params") or {}).get("variant")
    if named:
        return str(named)
    return "thumbnail" if transformation["transformation_type"] == "thumbnail_generation" \
        else None


class FakeEdge:
    def __init__(self, tables: Tables, clock: Callable[[], datetime]) -> None:
        self._t = tables
        self._clock = clock

    async def create_purge(self, *, requested_by: str, reason: str, purge_type: str,
                           file_ids: Sequence[str], urls: Sequence[str],
                           providers: Sequence[str]) -> Row:
        now = self._clock()
        purge_id = str(uuid.uuid4())
        self._t.purges[purge_id] = {
            "id": purge_id, "requested_by": requested_by, "reason": reason,
            "purge_type": purge_type, "file_ids": list(file_ids), "urls": list(urls),
            "status": "queued", "attempts": 0, "created_at": now, "updated_at": now,
            "completed_at": None,
            "results": {p: {"provider": p, "status": "queued", "urls_purged": 0,
                            "error_code": None, "error_message": None} for p in providers}}
        found = await self.purge(purge_id)
        assert found is not None
        return found

    async def purge(self, purge_id: str) -> Row | None:
        row = self._t.purges.get(purge_id)
        if row is None:
            return None
        results = [row["results"][p] for p in sorted(row["results"])]
        return copy.deepcopy({**row, "results": results})

    async def start_purge(self, purge_id: str) -> None:
        row = self._t.purges[purge_id]
        row.update(status="processing", attempts=row["attempts"] + 1, updated_at=self._clock())

    async def set_result(self, purge_id: str, provider: str, status: PurgeStatus, *,
                         urls_purged: int = 0, error_code: str | None = None,
                         error_message: str | None = None) -> None:
        result = self._t.purges[purge_id]["results"].get(provider)
        if result is not None:
            result.update(status=status, urls_purged=urls_purged, error_code=error_code,
                          error_message=error_message)

    async def finish_purge(self, purge_id: str, status: PurgeStatus, at: datetime) -> None:
        self._t.purges[purge_id].update(
            status=status, updated_at=self._clock(),
            completed_at=at if status == "completed" else None)

    async def due_purges(self, now: datetime, limit: int) -> list[str]:
        def due(r: Row) -> bool:
            if r["status"] in {"queued", "processing"}:
                return bool(r["updated_at"] < now - timedelta(minutes=1))
            return bool(r["status"] == "failed" and r["attempts"] < 5
                        and r["updated_at"] < now - r["attempts"] * timedelta(minutes=1))

        found = sorted((r for r in self._t.purges.values() if due(r)),
                       key=lambda r: r["updated_at"])
        return [r["id"] for r in found[:limit]]

    async def record_cache_purge(self, provider: str, entries: Sequence[CachedUrl],
                                 at: datetime) -> None:
        for entry in entries:
            if entry.file_id in self._t.files:
                self._t.cdn_cache[(entry.file_id, provider, entry.cache_key)] = {
                    "cdn_url": entry.url, "purged_at": at, "expires_at": at}

    async def variants(self, file_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        done = sorted((t for t in self._t.transformations if t["status"] == "completed"
                       and t["target_file_id"] and t["source_file_id"] in file_ids),
                      key=lambda t: t["completed_at"] or datetime.min)
        found: dict[str, dict[str, str]] = {}
        for t in done:  # the latest completed one wins
            variant = variant_of(t)
            if variant:
                found.setdefault(t["source_file_id"], {})[variant] = t["target_file_id"]
        return found

    async def variant_sources(self, target_id: str) -> list[tuple[str, str]]:
        return sorted({(t["source_file_id"], v) for t in self._t.transformations
                       if t["target_file_id"] == target_id and (v := variant_of(t))})

    async def owned(self, user_id: str, file_ids: Sequence[str]) -> set[str]:
        return {i for i in file_ids if self._t.files.get(i, {}).get("user_id") == user_id}
