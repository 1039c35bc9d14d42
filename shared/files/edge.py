"""A file's life at the CDN edge: the URLs the edge serves for it, the variant a variant URL
resolves to, and purge requests (recorded, then carried out by the ``cdn-purge`` queue's
worker, shared/distribution/purge.py).

A purge request is written before its queue message is sent: if the message is lost, the
timer sends it again (``repo.edge.due_purges``), so a purge is never forgotten.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence

from shared.cdn import EDGE_KINDS, edge_path
from shared.context import AppContext
from shared.db import Row
from shared.errors import NotFound

log = logging.getLogger(__name__)
CDN_PURGE_QUEUE = "cdn-purge"
SYSTEM = "system"  # requested_by of the purges that a change of a file's state asks for


def cdn_urls(ctx: AppContext, file_id: str, kinds: Iterable[str] = EDGE_KINDS) -> list[str]:
    """The edge's URLs of a file: ``/files/{id}``, and its variants' ``/thumbnails/{id}``
    and ``/previews/{id}`` (purged whether the variants exist or not: cheap, and never
    stale)."""
    base = ctx.settings.cdn_endpoint.rstrip("/")
    return [base + edge_path(kind, file_id) for kind in kinds]


async def send_purge(ctx: AppContext, purge_id: str) -> None:
    try:
        await ctx.queues.send(CDN_PURGE_QUEUE, json.dumps({"purge_id": purge_id}))
    except Exception as exc:  # the queue's errors are many; the timer sends it again
        log.warning("purge %s recorded, its message not sent (the timer will): %s",
                    purge_id, exc)


async def request_purge(ctx: AppContext, *, requested_by: str, reason: str, purge_type: str,
                        file_ids: Sequence[str], urls: Sequence[str]) -> Row:
    """Record a purge of ``urls`` at every configured provider and queue it."""
    providers = [provider.name for provider in ctx.cdn]
    async with ctx.db.connection() as repo:
        purge = await repo.edge.create_purge(
            requested_by=requested_by, reason=reason, purge_type=purge_type,
            file_ids=file_ids, urls=urls, providers=providers)
        if not providers:  # nothing caches the files: nothing to wait for
            await repo.edge.finish_purge(purge["id"], "completed", ctx.clock())
            purge = {**purge, "status": "completed"}
    if providers:
        await send_purge(ctx, purge["id"])
    return purge


async def variant_row(ctx: AppContext, source: Row, variant: str) -> Row:
    """The live file that holds ``variant`` of ``source``; 404 when there is none yet."""
    async with ctx.db.connection() as repo:
        target_id = (await repo.edge.variants([source["id"]])).get(source["id"], {}).get(variant)
        row = await repo.files.get(target_id) if target_id else None
    expires_at = row["expires_at"] if row is not None else None
    if row is None or row["deleted_at"] is not None or (
            expires_at is not None and expires_at <= ctx.clock()):
        raise NotFound(f"This file has no {variant} yet",
                       details={"file_id": source["id"], "variant": variant})
    return row
