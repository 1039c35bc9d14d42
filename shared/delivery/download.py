"""Where a download goes: a short-lived signed URL (SAS) to the stored bytes when they are
what the client should get, otherwise a stream through the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared import db
from shared.auth import Principal
from shared.delivery.disposition import content_disposition, must_download
from shared.files import repository
from shared.files.service import load_file
from shared.settings import get_settings
from shared.storage import primary_store


class DownloadQuery(BaseModel):
    disposition: Literal["attachment", "inline"] = "attachment"
    filename: str | None = Field(None, min_length=1, max_length=255)


@dataclass(frozen=True)
class Redirect:
    url: str
    headers: dict[str, str]


def cache_control(row: dict[str, Any], max_age: int) -> str:
    # A private file's signed URL must never be stored by a shared cache.
    return f"public, max-age={max_age}" if row["is_public"] else f"private, max-age={max_age}"


def disposition_for(row: dict[str, Any], query: DownloadQuery) -> str:
    kind = "attachment" if must_download(row["mime_type"]) else query.disposition
    return content_disposition(kind, query.filename or row["original_name"])


async def visible_file(principal: Principal | None, file_id: str) -> dict[str, Any]:
    """The file if this caller may read its bytes (owner, admin, or anyone if public)."""
    async with db.connection() as conn:
        row = await load_file(conn, principal, file_id, allow_public=True)
        await repository.touch_access(conn, file_id, datetime.now(UTC))
    return row


async def download(principal: Principal | None, file_id: str, query: DownloadQuery) -> Redirect:
    settings = get_settings()
    row = await visible_file(principal, file_id)
    disposition = disposition_for(row, query)
    # Ask the storage service to send the safe headers too, so the bytes carry them.
    url = await primary_store().signed_url(
        row["file_path"], expires_in=settings.signed_url_expires,
        content_type=row["mime_type"], content_disposition=disposition,
    )
    max_age = max(settings.signed_url_expires - 60, 0)
    return Redirect(url=url or "", headers={
        "Cache-Control": cache_control(row, max_age),
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
    })
