"""What the CDN fetches: a public file at ``/files/{id}``, its variants at
``/thumbnails/{id}`` and ``/previews/{id}`` (the URLs of shared/cdn/base.py). Anonymous
(the edge sends no credentials, so only public files are served), with the file's ranges and
validators, and a shared-cache lifetime of ``CDN_CACHE_TTL``: every change of the file's
state purges these URLs, so the edge may keep them that long."""

from __future__ import annotations

from collections.abc import Mapping

from shared.cdn import EDGE_KINDS
from shared.context import AppContext
from shared.delivery.stream import StreamResponse, stream


async def serve_edge(ctx: AppContext, kind: str, file_id: str, method: str,
                     request_headers: Mapping[str, str]) -> StreamResponse:
    ttl = ctx.settings.cdn_cache_ttl  # the CDN purges these URLs on every change
    result = await stream(ctx, None, file_id, method, request_headers,
                          variant=EDGE_KINDS[kind], edge=True,
                          cache_ages=(min(3600, ttl), ttl))
    return result
