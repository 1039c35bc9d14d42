"""File management: who may see which file, listing, metadata changes, trash and restore."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, errors

from shared import db
from shared.auth import Principal
from shared.errors import (
    DuplicateFile,
    Forbidden,
    NotFound,
    NotInTrash,
    QuotaExceeded,
    RecoveryExpired,
)
from shared.files import quotas, repository
from shared.files.models import (
    DeleteResponse,
    FileDetailResponse,
    FileListResponse,
    FileRecord,
    FileSummary,
    FileUpdate,
    FileUpdateResponse,
    ListQuery,
    Pagination,
    RestoreResponse,
    StorageUsage,
    TransformationSummary,
)
from shared.files.urls import file_urls
from shared.settings import Settings, get_settings
from shared.storage import primary_store

ACCESS_RESOLUTION = timedelta(hours=1)


def _valid_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError):
        return False
    return True


def can_read(principal: Principal | None, row: dict[str, Any], *, allow_public: bool) -> bool:
    if allow_public and row["is_public"] and row["deleted_at"] is None:
        return True
    if principal is None:
        return False
    return principal.is_admin or row["user_id"] == principal.user_id


async def load_file(conn: AsyncConnection, principal: Principal | None, file_id: str, *,
                    allow_public: bool = False, include_trashed: bool = False,
                    for_update: bool = False) -> dict[str, Any]:
    """The file row if the principal may see it; otherwise 404 (ids cannot be probed)."""
    row = await repository.get_file(conn, file_id, for_update=for_update) \
        if _valid_uuid(file_id) else None
    if row is None or not can_read(principal, row, allow_public=allow_public):
        raise NotFound(details={"file_id": file_id})
    if row["deleted_at"] is not None and not include_trashed:
        raise NotFound(details={"file_id": file_id})
    return row


async def readable_file(principal: Principal | None, file_id: str) -> dict[str, Any]:
    """The file if this caller may read its bytes (owner, admin, or anyone if public)."""
    async with db.connection() as conn:
        row = await load_file(conn, principal, file_id, allow_public=True)
        now = datetime.now(UTC)
        # Tiering needs the last access to the hour; most reads need no write at all.
        last = row["last_accessed_at"]
        if last is None or now - last > ACCESS_RESOLUTION:
            await repository.touch_access(conn, file_id, now)
    return row


def _summary(row: dict[str, Any], metadata: dict[str, Any], settings: Settings) -> FileSummary:
    return FileSummary(**row, urls=file_urls(row["id"], settings), metadata=metadata)


async def storage_usage(conn: AsyncConnection, principal: Principal, settings: Settings
                        ) -> StorageUsage:
    used = await repository.usage_of(conn, principal.user_id)
    quota = quotas.quota_for(principal, settings)
    return StorageUsage(used_bytes=used, quota_bytes=quota,
                        usage_percent=quotas.usage_percent(quota, used))


async def list_files(principal: Principal, query: ListQuery) -> FileListResponse:
    settings = get_settings()
    if query.user_id and not principal.is_admin and query.user_id != principal.user_id:
        raise Forbidden("Only admins may list another user's files")
    owner = query.user_id or principal.user_id
    async with db.connection() as conn:
        rows, total = await repository.list_files(conn, owner, query)
        metadata = await repository.metadata_for(conn, [r["id"] for r in rows])
        usage = await storage_usage(conn, principal, settings)
    return FileListResponse(
        files=[_summary(r, metadata.get(r["id"], {}), settings) for r in rows],
        pagination=Pagination(page=query.page, limit=query.limit, total=total,
                              pages=math.ceil(total / query.limit) if total else 0),
        storage_usage=usage,
    )


async def file_detail(principal: Principal, file_id: str) -> FileDetailResponse:
    settings = get_settings()
    async with db.connection() as conn:
        row = await load_file(conn, principal, file_id, include_trashed=True)
        metadata = (await repository.metadata_for(conn, [file_id])).get(file_id, {})
        transformations = await repository.transformations_for(conn, file_id)
    return FileDetailResponse(
        file=FileRecord(**row), metadata=metadata, urls=file_urls(row["id"], settings),
        transformations=[TransformationSummary(**t) for t in transformations],
    )


async def update_file(principal: Principal, file_id: str, update: FileUpdate
                      ) -> FileUpdateResponse:
    changes = update.model_dump(exclude_unset=True, exclude={"metadata"})
    if update.metadata is not None:
        changes |= update.metadata.model_dump(exclude_unset=True)
    for key in ("original_name", "is_public"):
        if key in changes and changes[key] is None:
            del changes[key]  # these columns are NOT NULL; null means "leave as is"
    async with db.transaction() as conn:
        row = await load_file(conn, principal, file_id, for_update=True)
        if changes:
            row = await repository.update_file(conn, file_id, changes)
    return FileUpdateResponse(file=FileRecord(**row))


async def delete_file(principal: Principal, file_id: str, *, permanent: bool
                      ) -> DeleteResponse:
    settings = get_settings()
    now = datetime.now(UTC)
    async with db.transaction() as conn:
        row = await load_file(conn, principal, file_id, include_trashed=permanent,
                              for_update=True)
        live = row["deleted_at"] is None
        if live:
            await repository.release_usage(conn, row["user_id"], row["size_bytes"])
        if permanent:
            await repository.mark_backup_for_deletion(conn, row["file_path"])
            await repository.delete_file_row(conn, file_id)
            deadline = None
        else:
            deadline = now + timedelta(days=settings.trash_retention_days)
            await repository.update_file(
                conn, file_id, {"deleted_at": now, "recovery_deadline": deadline}
            )
    if permanent:
        # After the commit: if this delete fails, the lifecycle sweep finds the orphan.
        await primary_store().delete(row["file_path"])
    freed = row["size_bytes"] if live else 0
    message = (
        "File permanently deleted." if permanent else
        f"File moved to trash. Can be recovered within {settings.trash_retention_days} days."
    )
    return DeleteResponse(file_id=file_id, permanent=permanent, recovery_deadline=deadline,
                          storage_freed_bytes=freed, message=message)


async def restore_file(principal: Principal, file_id: str) -> RestoreResponse:
    settings = get_settings()
    try:
        async with db.transaction() as conn:
            row = await load_file(conn, principal, file_id, include_trashed=True,
                                  for_update=True)
            if row["deleted_at"] is None:
                raise NotInTrash(details={"file_id": file_id})
            if row["recovery_deadline"] and row["recovery_deadline"] < datetime.now(UTC):
                raise RecoveryExpired(details={"recovery_deadline": row["recovery_deadline"]
                                         .isoformat()})
            # The owner restores within their quota; an admin restoring is not bounded.
            quota = quotas.quota_for(principal, settings)
            if await repository.reserve_usage(conn, row["user_id"], row["size_bytes"],
                                              quota) is None:
                used = await repository.usage_of(conn, row["user_id"])
                raise QuotaExceeded(details={
                    "file_size_bytes": row["size_bytes"],
                    "user_quota_remaining": quotas.remaining(quota, used),
                })
            row = await repository.update_file(
                conn, file_id, {"deleted_at": None, "recovery_deadline": None}
            )
    except errors.UniqueViolation as exc:
        raise DuplicateFile("A live file with the same content already exists",
                            details={"file_id": file_id}) from exc
    return RestoreResponse(file=FileRecord(**row))
