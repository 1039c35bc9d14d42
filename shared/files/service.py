"""File management: who may see which file, listing, metadata changes, trash and restore."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from shared.auth import Principal
from shared.context import AppContext
from shared.db import DuplicateKey, FileListing, Repository, Row
from shared.errors import (
    DuplicateFile,
    Forbidden,
    NotFound,
    NotInTrash,
    RecoveryExpired,
    Unauthorized,
    Unprocessable,
    ValidationFailed,
)
from shared.files import cursor, quotas, variants
from shared.files.models import (
    DeleteResponse,
    FileDetailResponse,
    FileListResponse,
    FileSummary,
    FileUpdate,
    FileUpdateResponse,
    ListQuery,
    Pagination,
    RestoreResponse,
    StorageUsage,
    TransformationSummary,
    file_record,
)
from shared.files.urls import file_urls
from shared.files.visibility import public_access_ended, publicly_readable
from shared.ids import canonical_id
from shared.names import sanitize_filename
from shared.settings import Settings

log = logging.getLogger(__name__)


def can_read(principal: Principal | None, row: Row, *, allow_public: bool) -> bool:
    if allow_public and row["is_public"] and row["deleted_at"] is None:
        return True
    if principal is None:
        return False
    return principal.is_admin or row["user_id"] == principal.user_id


def expired(row: Row, now: datetime) -> bool:
    """Past its ``expires_at``: gone for every reader at once, though the timer deletes
    its row and bytes only at its next run."""
    return row.get("expires_at") is not None and row["expires_at"] <= now


async def load_file(repo: Repository, principal: Principal | None, file_id: str, *,
                    allow_public: bool = False, include_trashed: bool = False,
                    for_update: bool = False, now: datetime | None = None) -> Row:
    """The file row if the principal may see it; otherwise 404 (ids cannot be probed).
    With ``now``, a file past its ``expires_at`` is 404 too (every read path passes it)."""
    row = await repo.files.get(file_id, for_update=for_update) \
        if canonical_id(file_id) else None
    if row is None or not can_read(principal, row, allow_public=allow_public):
        raise NotFound(details={"file_id": file_id})
    if row["deleted_at"] is not None and not include_trashed:
        raise NotFound(details={"file_id": file_id})
    if now is not None and expired(row, now):
        raise NotFound(details={"file_id": file_id})
    return row


async def readable_file(ctx: AppContext, principal: Principal | None, file_id: str, *,
                        anonymous_404: bool = False) -> Row:
    """The file if this caller may read its bytes (owner, admin, or anyone if public).

    A caller without a token gets 401 for anything that is not a public file, whether the
    file exists or not (nothing to probe either way); a caller with one gets 404 for a
    file that is not theirs. ``anonymous_404``: the CDN origin's answer, which never
    asks for a token."""
    try:
        async with ctx.db.connection() as repo:
            row = await load_file(repo, principal, file_id, allow_public=True,
                                  now=ctx.clock())
    except NotFound:
        if principal is None and not anonymous_404:
            raise Unauthorized("A token is needed for files that are not public") from None
        raise
    # For tiering: batched, and nothing at all when the row says it was used this hour.
    ctx.access.note(ctx.db, row["id"], ctx.clock(), row["last_accessed_at"])
    return row


def _summary(row: Row, metadata: dict[str, Any], settings: Settings,
             made: dict[str, str]) -> FileSummary:
    return FileSummary(**row, urls=file_urls(row, settings, made), metadata=metadata)


async def storage_usage(repo: Repository, principal: Principal, settings: Settings
                        ) -> StorageUsage:
    used = await repo.usage.used_bytes(principal.user_id)
    quota = quotas.quota_for(principal, settings)
    return StorageUsage(used_bytes=used, quota_bytes=quota,
                        usage_percent=quotas.usage_percent(quota, used),
                        bytes_by_tier=await repo.maintenance.bytes_by_tier(principal.user_id))


def listing_for(owner: str, query: ListQuery, now: datetime | None = None
                ) -> FileListing:
    if query.cursor is not None and query.page > 1:
        raise ValidationFailed("Invalid query parameters", details={"errors": [
            {"field": "cursor", "message": "cursor and page > 1 cannot be used together"}]})
    return FileListing(owner=owner, trashed=query.trashed, project_id=query.project_id,
                       file_type=query.file_type, search=query.search, sort=query.sort,
                       descending=query.order == "desc", limit=query.limit,
                       offset=(query.page - 1) * query.limit,
                       after=cursor.decode(query, query.cursor) if query.cursor else None,
                       now=now)


async def list_files(ctx: AppContext, principal: Principal, query: ListQuery
                     ) -> FileListResponse:
    settings = ctx.settings
    if query.user_id and not principal.is_admin and query.user_id != principal.user_id:
        raise Forbidden("Only admins may list another user's files")
    owner = query.user_id or principal.user_id
    async with ctx.db.connection() as repo:
        found = await repo.files.page(listing_for(owner, query, ctx.clock()))
        rows, total = found.rows, found.total
        ids = [r["id"] for r in rows]
        metadata = await repo.files.metadata_for(ids)
        made = await repo.edge.variants(ids)
        usage = await storage_usage(repo, principal, settings)
    return FileListResponse(
        files=[_summary(r, metadata.get(r["id"], {}), settings, made.get(r["id"], {}))
               for r in rows],
        pagination=Pagination(
            page=query.page, limit=query.limit, total=total,
            pages=math.ceil(total / query.limit) if total else 0,
            total_is_estimate=found.total_is_estimate,
            next_cursor=cursor.encode(query, rows[-1]) if found.more and rows else None),
        storage_usage=usage,
    )


async def file_detail(ctx: AppContext, principal: Principal, file_id: str
                      ) -> FileDetailResponse:
    async with ctx.db.connection() as repo:
        row = await load_file(repo, principal, file_id, include_trashed=True,
                              now=ctx.clock())
        metadata = (await repo.files.metadata_for([file_id])).get(file_id, {})
        transformations = await repo.processing.summaries(file_id)
        made = (await repo.edge.variants([file_id])).get(file_id, {})
    return FileDetailResponse(
        file=file_record(row, principal),
        metadata={**metadata, "processing": processing(transformations)},
        urls=file_urls(row, ctx.settings, made),
        transformations=[TransformationSummary(**t) for t in transformations],
    )


def processing(transformations: list[Row]) -> dict[str, bool]:
    """``metadata.processing``: what the pipeline has done to the file so far."""
    done = [t for t in transformations if t["status"] == "completed"]
    text = [t for t in done if t["type"] in ("text_extraction", "ocr")]
    return {"text_extracted": bool(text),
            "thumbnails_generated": any(t["type"] == "thumbnail_generation" for t in done),
            "searchable": any((t.get("extracted_text_length") or 0) > 0 for t in text)}


def update_changes(update: FileUpdate) -> dict[str, Any]:
    """The columns a ``PUT`` changes, every value valid for its column: absent fields are
    not changed; ``null`` leaves ``original_name`` and ``is_public`` as they are (they
    always have a value) and empties the others (``tags`` [], ``custom_fields`` {});
    ``original_name`` is sanitised as at upload."""
    changes = update.model_dump(exclude_unset=True, exclude={"metadata"})
    if update.metadata is not None:
        changes |= update.metadata.model_dump(exclude_unset=True)
    for key in ("original_name", "is_public"):
        if key in changes and changes[key] is None:
            del changes[key]
    for key, empty in (("tags", []), ("custom_fields", {})):
        if key in changes and changes[key] is None:
            changes[key] = empty
    if "original_name" in changes:
        changes["original_name"] = sanitize_filename(changes["original_name"])
    return changes


def refuse_past_expiry(expires_at: datetime, now: datetime) -> None:
    """An expiry must lie ahead: a past one would delete the file at the next timer run."""
    if expires_at <= now:
        raise Unprocessable("expires_at must be in the future", details={"errors": [
            {"field": "expires_at", "message": "must be later than now",
             "now": now.isoformat()}]})


async def update_file(ctx: AppContext, principal: Principal, file_id: str, update: FileUpdate
                      ) -> FileUpdateResponse:
    changes = update_changes(update)
    if changes.get("expires_at") is not None:
        refuse_past_expiry(changes["expires_at"], ctx.clock())
    async with ctx.db.transaction() as repo:
        before = await load_file(repo, principal, file_id, for_update=True)
        row = await repo.files.update(file_id, changes) if changes else before
    if changes and publicly_readable(before):  # its cached answers no longer hold
        await public_access_ended(ctx, before, "updated")
    return FileUpdateResponse(file=file_record(row, principal))


async def delete_file(ctx: AppContext, principal: Principal, file_id: str, *, permanent: bool
                      ) -> DeleteResponse:
    settings = ctx.settings
    now = ctx.clock()
    async with ctx.db.transaction() as repo:
        row = await load_file(repo, principal, file_id, include_trashed=permanent,
                              for_update=True)
        # The trash counts against the quota until it is purged (otherwise upload, trash,
        # repeat would store without limit): only a permanent deletion frees the bytes.
        if permanent:
            await repo.usage.release(row["user_id"], row["size_bytes"])
            followers = await variants.delete(repo, file_id)
            await repo.backups.mark_for_deletion(row["file_path"])
            await repo.files.delete(file_id)
            deadline = None
        else:
            deadline = now + timedelta(days=settings.trash_retention_days)
            followers = await variants.trash(repo, file_id, now, deadline)
            await repo.files.update(file_id, {"deleted_at": now, "recovery_deadline": deadline})
    await public_access_ended(ctx, row, "deleted" if permanent else "trashed")
    if permanent:
        for removed in (row, *followers):
            await delete_stored_bytes(ctx, removed)
    freed = row["size_bytes"] + sum(v["size_bytes"] for v in followers) if permanent else 0
    message = (
        "File permanently deleted." if permanent else
        f"File moved to trash. Can be recovered within {settings.trash_retention_days} days;"
        " it counts against the quota until it is purged."
    )
    return DeleteResponse(file_id=file_id, permanent=permanent, recovery_deadline=deadline,
                          storage_freed_bytes=freed, message=message)


async def delete_stored_bytes(ctx: AppContext, row: Row) -> None:
    """Delete a removed file's object, after the transaction that removed its row.

    The file is gone for the client either way. If the store refuses now, the object is
    an orphan that no row names: it is logged (``orphaned object``) and the reconciliation
    (``shared/reconcile.py``) deletes it once its grace period has passed.
    """
    try:
        await ctx.stores.of(row).delete(row["file_path"])
    except Exception as exc:  # the store's own errors are many; none may undo the delete
        log.error("orphaned object %s (%s): %s", row["file_path"], row["storage_provider"],
                  exc)


async def restore_file(ctx: AppContext, principal: Principal, file_id: str
                       ) -> RestoreResponse:
    try:
        async with ctx.db.transaction() as repo:
            row = await load_file(repo, principal, file_id, include_trashed=True,
                                  for_update=True)
            if row["deleted_at"] is None:
                raise NotInTrash(details={"file_id": file_id})
            if row["recovery_deadline"] and row["recovery_deadline"] < ctx.clock():
                raise RecoveryExpired(details={"recovery_deadline": row["recovery_deadline"]
                                         .isoformat()})
            # Its bytes never left the quota (the trash counts): nothing to reserve again;
            # the variants trashed with it come back with it.
            await variants.restore(repo, row)
            row = await repo.files.update(file_id,
                                          {"deleted_at": None, "recovery_deadline": None})
    except DuplicateKey as exc:
        raise DuplicateFile("A live file with the same content already exists",
                            details={"file_id": file_id}) from exc
    return RestoreResponse(file=file_record(row, principal))
