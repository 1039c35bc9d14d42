"""``/stream``: a file's bytes with RFC 9110 semantics, the way a static file server answers.

Ranges (single, suffix, open, several), validators (strong ETag from the content's SHA-256,
Last-Modified from when the bytes were stored: they never change) and preconditions
(If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, If-Range). Only the
requested bytes are read from storage; encrypted files are decrypted frame by frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.auth import Principal
from shared.context import AppContext
from shared.db import Row
from shared.delivery import conditional, ranges
from shared.delivery.disposition import (
    content_disposition,
    download_name,
    must_download,
    needs_sandbox,
)
from shared.errors import PreconditionFailed, RangeNotSatisfiable
from shared.files.content import file_key, read_plain
from shared.files.edge import variant_row
from shared.files.service import readable_file
from shared.files.tiers import ensure_readable


class StreamQuery(BaseModel):
    variant: Literal["thumbnail", "preview"] | None = Field(
        None, description="a variant of the file (its completed thumbnail or preview)")


@dataclass
class StreamResponse:
    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes] | None = None
    length: int = 0


# Shared caches in front of the API (not the CDN, whose URLs are purged) may keep a public
# file's answer this long: it stops being served within a minute of being made private,
# trashed or expired.
API_SHARED_MAX_AGE = 60
PRIVATE_CACHE = "private, max-age=0, must-revalidate"


def seconds_left(row: Row, now: datetime) -> int | None:
    """Whole seconds until the file's ``expires_at`` (None: it does not expire)."""
    expires_at = row.get("expires_at")
    return None if expires_at is None else max(int((expires_at - now).total_seconds()), 0)


def public_cache(row: Row, now: datetime, *, max_age: int,
                 shared_max_age: int = API_SHARED_MAX_AGE) -> str:
    """Cache-Control of an answer about a public file: never past its ``expires_at``."""
    left = seconds_left(row, now)
    if left is None:
        return f"public, max-age={max_age}, s-maxage={shared_max_age}"
    # No stale copy either (a CDN's grace period) once the file has expired.
    max_age, shared_max_age = min(max_age, left), min(shared_max_age, left)
    return (f"public, max-age={max_age}, s-maxage={shared_max_age},"
            " stale-while-revalidate=0, stale-if-error=0")


def representation_headers(row: Row, now: datetime, *, disposition: str = "inline",
                           filename: str | None = None,
                           cache_ages: tuple[int, int] = (3600, API_SHARED_MAX_AGE)
                           ) -> dict[str, str]:
    """Headers every response carrying (or describing) the file's bytes sends.

    Types a browser could execute (HTML, SVG, XML, JavaScript) are always attachments; they
    and PDFs are sandboxed. The name always ends in an extension of the stored type.
    Private files are ``Cache-Control: private``; public ones may stay in a shared cache
    for a minute at most (never past ``expires_at``).
    """
    mime = row["mime_type"]
    kind = "attachment" if must_download(mime) else disposition
    max_age, shared_max_age = cache_ages
    cache = (public_cache(row, now, max_age=max_age, shared_max_age=shared_max_age)
             if row["is_public"] else PRIVATE_CACHE)
    name = download_name(filename or row["original_name"], mime)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": conditional.strong_etag(row["checksum_sha256"]),
        "Last-Modified": conditional.http_date(row["created_at"]),
        "Cache-Control": cache,
        "Content-Disposition": content_disposition(kind, name),
        "X-Content-Type-Options": "nosniff",
    }
    if needs_sandbox(mime):
        headers["Content-Security-Policy"] = "sandbox"
    return headers


async def _multipart_body(ctx: AppContext, row: Row,
                          parts: list[tuple[bytes, ranges.ByteRange]], trailer: bytes,
                          dek: bytes | None) -> AsyncIterator[bytes]:
    for head, byte_range in parts:
        yield head
        async for chunk in await read_plain(ctx, row, byte_range.start, byte_range.end,
                                            dek=dek):
            yield chunk
    yield trailer


async def _partial(ctx: AppContext, row: Row, request: ranges.RangeRequest,
                   headers: dict[str, str], *, head: bool = False) -> StreamResponse:
    """``head``: the answer without its body (no byte read, no data key unwrapped)."""
    size, mime = row["size_bytes"], row["mime_type"]
    if len(request.ranges) == 1:
        byte_range = ranges.bounded(request.ranges[0], ctx.settings.stream_max_open_range)
        headers |= {"Content-Type": mime, "Content-Range": byte_range.content_range(size)}
        body = None if head else await read_plain(ctx, row, byte_range.start, byte_range.end)
        return StreamResponse(206, headers, body, byte_range.length)
    boundary = ranges.multipart_boundary()
    parts = ranges.multipart_parts(request.ranges, size, mime, boundary)
    length = ranges.multipart_length(request.ranges, size, mime, boundary)
    headers["Content-Type"] = ranges.multipart_content_type(boundary)
    # One unwrap for every range of the request, before any byte is sent.
    body = None if head else _multipart_body(ctx, row, parts,
                                             ranges.multipart_trailer(boundary),
                                             await file_key(ctx, row))
    return StreamResponse(206, headers, body, length)


async def stream(ctx: AppContext, principal: Principal | None, file_id: str, method: str,
                 request_headers: Mapping[str, str], *, variant: str | None = None,
                 edge: bool = False,
                 cache_ages: tuple[int, int] = (3600, API_SHARED_MAX_AGE)) -> StreamResponse:
    """``variant`` (thumbnail, preview): the bytes of that variant of the file, with the
    file's own access rules. ``edge``: the CDN origin's request (404, never 401).
    ``cache_ages``: (max-age, s-maxage) of a public file's answer, never past its
    ``expires_at``."""
    row = await readable_file(ctx, principal, file_id, anonymous_404=edge)
    if variant is not None:
        row = {**await variant_row(ctx, row, variant), "is_public": row["is_public"],
               "expires_at": row["expires_at"]}  # the source's rules, its lifetime too
    headers = representation_headers(row, ctx.clock(), cache_ages=cache_ages)
    etag, last_modified = headers["ETag"], row["created_at"]
    verdict = conditional.evaluate(
        method, etag=etag, last_modified=last_modified,
        if_none_match=request_headers.get("if-none-match"),
        if_modified_since=request_headers.get("if-modified-since"),
        if_match=request_headers.get("if-match"),
        if_unmodified_since=request_headers.get("if-unmodified-since"),
    )
    if verdict == 304:
        keep = ("ETag", "Last-Modified", "Cache-Control", "Accept-Ranges",
                "X-Content-Type-Options")
        return StreamResponse(304, {k: headers[k] for k in keep})
    if verdict == 412:
        raise PreconditionFailed(details={"etag": etag})
    if method != "HEAD":
        await ensure_readable(ctx, row)  # an archived file: 202 while it is rehydrated

    size = row["size_bytes"]
    request = ranges.parse_range(request_headers.get("range"), size)
    if not conditional.if_range_allows_partial(request_headers.get("if-range"), etag=etag,
                                               last_modified=last_modified):
        request = ranges.parse_range(None, size)  # validator changed: send it all
    if request.unsatisfiable:
        raise RangeNotSatisfiable(
            details={"size_bytes": size},
            headers={"Content-Range": ranges.unsatisfied_content_range(size), **headers},
        )
    head = method == "HEAD"
    if request.satisfiable:
        return await _partial(ctx, row, request, headers, head=head)
    return await whole(ctx, row, headers, head=head)


async def whole(ctx: AppContext, row: Row, headers: dict[str, str], *, head: bool = False
                ) -> StreamResponse:
    size = row["size_bytes"]
    headers = {**headers, "Content-Type": row["mime_type"]}
    body = await read_plain(ctx, row, 0, size - 1) if size and not head else None
    return StreamResponse(200, headers, body, size)
