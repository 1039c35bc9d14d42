"""``/download``: a 302 to a short-lived signed URL (SAS) when the stored bytes are what the
client should get; encrypted files (and stores that cannot sign a URL) are streamed by the
service instead, and so are the types served with ``Content-Security-Policy: sandbox`` (PDFs,
HTML, SVG, XML...): a SAS can set only the storage service's own response headers, and CSP
is not one of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from shared.auth import Principal
from shared.context import AppContext
from shared.delivery.stream import (
    StreamResponse,
    public_cache,
    representation_headers,
    seconds_left,
    whole,
)
from shared.files.service import readable_file
from shared.files.tiers import ensure_readable


class DownloadQuery(BaseModel):
    disposition: Literal["attachment", "inline"] = "attachment"
    filename: str | None = Field(None, min_length=1, max_length=255)


@dataclass(frozen=True)
class Redirect:
    url: str
    headers: dict[str, str]


async def download(ctx: AppContext, principal: Principal | None, file_id: str,
                   query: DownloadQuery) -> Redirect | StreamResponse:
    settings = ctx.settings
    row = await readable_file(ctx, principal, file_id)
    await ensure_readable(ctx, row)  # an archived file: 202 while it is rehydrated
    now = ctx.clock()
    headers = representation_headers(row, now, disposition=query.disposition,
                                     filename=query.filename)
    if row.get("encryption") or "Content-Security-Policy" in headers:
        # a SAS would hand out ciphertext, or drop the sandbox
        return await whole(ctx, row, headers)
    # The storage service sends the same safe headers with the bytes (SAS overrides).
    url = await ctx.stores.of(row).signed_url(
        row["file_path"], expires_in=settings.sas_lifetime,
        content_type=row["mime_type"], content_disposition=headers["Content-Disposition"],
    )
    if url is None:
        return await whole(ctx, row, headers)
    # The redirect may be cached only while its URL is valid (and the file has not expired);
    # never by a shared cache when the file is private, by one for a minute when it is public.
    max_age = max(settings.sas_lifetime - 60, 0)
    cache = (public_cache(row, now, max_age=max_age) if row["is_public"]
             else f"private, max-age={min(max_age, seconds_left(row, now) or max_age)}")
    return Redirect(url=url, headers={
        "Cache-Control": cache,
        "Content-Disposition": headers["Content-Disposition"],
        "X-Content-Type-Options": "nosniff",
    })
