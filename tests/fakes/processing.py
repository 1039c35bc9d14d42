"""In-memory ``ProcessingRepository`` (shared/db/processing.py) over the fake tables."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any

from shared.context import Clock
from shared.db.processing import MAX_INDEXED_CHARS, OPEN, Row


class FakeProcessing:
    def __init__(self, tables: Any, clock: Clock) -> None:
        self._t = tables
        self._clock = clock

    def _find(self, transform_id: str) -> Row | None:
        return next((t for t in self._t.transformations if t.get("id") == transform_id), None)

    async def file_by_path(self, path: str, *, for_update: bool = False) -> Row | None:
        return next((copy.deepcopy(r) for r in self._t.files.values()
                     if r["file_path"] == path), None)

    async def has_metadata(self, file_id: str, metadata_type: str) -> bool:
        return any(f == file_id and k == metadata_type for f, k, _ in self._t.metadata)

    async def create(self, values: Row) -> Row:
        now = self._clock()
        row = {"id": str(uuid.uuid4()), "target_file_id": None, "status": "queued",
               "progress_percent": 0, "error_code": None, "error_message": None,
               "started_at": None, "completed_at": None, "created_at": now,
               "user_id": None, "requested_role": None, "output_name": None, "attempts": 0,
               "heartbeat_at": now, "result": None, "owns_target": False, **values}
        self._t.transformations.append(row)
        return copy.deepcopy(row)

    async def get(self, transform_id: str) -> Row | None:
        return copy.deepcopy(self._find(transform_id))

    async def queue_position(self, transform_id: str) -> int:
        me = self._find(transform_id)
        if me is None:
            return 1
        return sum(1 for t in self._t.transformations
                   if t["status"] in OPEN and t["created_at"] <= me["created_at"])

    async def summaries(self, source_id: str) -> list[Row]:
        return [{"id": t.get("id", ""), "type": t["transformation_type"], "status": t["status"],
                 "progress_percent": t.get("progress_percent", 0),
                 "output_file_id": t["target_file_id"], "error_message": t.get("error_message"),
                 "extracted_text_length": (t.get("result") or {}).get("extracted_text_length")}
                for t in self._t.transformations if t["source_file_id"] == source_id]

    async def claim(self, transform_id: str, stale_before: datetime) -> Row | None:
        t = self._find(transform_id)
        if t is None or not (t["status"] == "queued" or (
                t["status"] == "processing" and t["heartbeat_at"] < stale_before)):
            return None
        now = self._clock()
        t.update(status="processing", attempts=t["attempts"] + 1, heartbeat_at=now,
                 started_at=t["started_at"] or now)
        return copy.deepcopy(t)

    async def heartbeat(self, transform_id: str, progress: int | None = None) -> None:
        t = self._find(transform_id)
        if t is not None and t["status"] == "processing":
            t["heartbeat_at"] = self._clock()
            t["progress_percent"] = max(t["progress_percent"], progress or 0)

    async def release(self, transform_id: str, error: str) -> None:
        t = self._find(transform_id)
        if t is not None and t["status"] == "processing":
            t.update(status="queued", error_message=error[:1000], heartbeat_at=self._clock())

    async def finish(self, transform_id: str, *, status: str, target_file_id: str | None = None,
                     owns_target: bool = False, result: Row | None = None,
                     error_code: str | None = None, error_message: str | None = None) -> bool:
        t = self._find(transform_id)
        if t is None or t["status"] not in OPEN:
            return False
        t.update(status=status, target_file_id=target_file_id, owns_target=owns_target,
                 result=result, error_code=error_code, error_message=error_message,
                 completed_at=self._clock(),
                 progress_percent=100 if status == "completed" else t["progress_percent"])
        return True

    async def cancel_for_source(self, source_id: str, reason: str) -> int:
        ended = [t for t in self._t.transformations
                 if t["source_file_id"] == source_id and t["status"] in OPEN]
        for t in ended:
            t.update(status="failed", error_code="CANCELLED", error_message=reason,
                     completed_at=self._clock())
        return len(ended)

    async def variants(self, source_id: str) -> list[Row]:
        ids = {t["target_file_id"] for t in self._t.transformations
               if t["source_file_id"] == source_id and t.get("owns_target")}
        return [copy.deepcopy(r) for i, r in self._t.files.items() if i in ids]

    async def stale(self, stale_before: datetime, limit: int) -> list[Row]:
        return [copy.deepcopy(t) for t in self._t.transformations
                if t["status"] in OPEN and (t.get("heartbeat_at") or t.get("created_at") or
                                            stale_before) < stale_before][:limit]

    async def requeue(self, transform_id: str) -> None:
        t = self._find(transform_id)
        if t is not None and t["status"] in OPEN:
            t.update(status="queued", heartbeat_at=self._clock())

    async def undescribed(self, before: datetime, limit: int) -> list[str]:
        described = {f for f, kind, _ in self._t.metadata if kind == "extraction"}
        rows = sorted((r for r in self._t.files.values() if r["deleted_at"] is None
                       and r["created_at"] < before and r["id"] not in described),
                      key=lambda r: r["created_at"], reverse=True)
        return [r["file_path"] for r in rows[:limit]]

    async def set_text(self, file_id: str, text: str) -> None:
        self._t.texts[file_id] = text[:MAX_INDEXED_CHARS]
