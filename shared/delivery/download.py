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
from shared.delivery.stream import StreamResponse, representation_headers, whole
from shared.files.service import readable_file


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
    headers = representation_headers(row, disposition=query.disposition,
                                     filename=query.filename)
    if row.get("encryption") or "Content-Security-Policy" in headers:
        return whole(ctx, row, headers)  # a SAS would hand out ciphertext, or drop the sandbox
    # The storage service sends the same safe headers with the bytes (SAS overrides).
    url = await ctx.stores.of(row).signed_url(
        row["file_path"], expires_in=settings.signed_url_expires,
        content_type=row["mime_type"], content_disposition=headers["Content-Disposition"],
    )
    if url is None:
        return whole(ctx, row, headers)
    # The redirect may be cached only while its URL is valid; never by a shared cache
    # when the file is private.
    max_age = max(settings.signed_url_expires - 60, 0)
    scope = "public" if row["is_public"] else "private"
    return Redirect(url=url, headers={
        "Cache-Control": f"{scope}, max-age={max_age}",
        "Content-Disposition": headers["Content-Disposition"],
        "X-Content-Type-Options": "nosniff",
    })
