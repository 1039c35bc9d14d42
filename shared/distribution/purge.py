"""CDN purges: the ``POST /cdn/purge`` request (each file owner's or an admin's, a foreign
id is 404), the worker of the ``cdn-purge`` queue that carries one out at every provider,
and the timer's catch-up of purges whose message was lost or whose provider failed.

A provider that fails gets ``failed`` with ``CDN_SYNC_FAILED`` in its status, the others
still purge; the timer tries the failed ones again (shared/db/edge.py, ``due_purges``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.auth import Principal
from shared.cdn import CDN_SYNC_FAILED, EDGE_KINDS, parse_edge_path, url_path
from shared.context import AppContext
from shared.db import Row
from shared.db.edge import CachedUrl, PurgeStatus
from shared.distribution.models import (
    ProviderError,
    ProviderStatus,
    PurgeBody,
    PurgeRequestInfo,
    PurgeResponse,
)
from shared.errors import NotFound
from shared.files.edge import cdn_urls, request_purge, send_purge
from shared.files.service import load_file
from shared.ids import canonical_id

log = logging.getLogger(__name__)
# How long each provider takes to drop a URL everywhere (for estimated_completion).
_PROVIDER_SECONDS = {"azure_cdn": 600, "cloudflare": 30, "varnish": 5}
_RETRY_BATCH = 50


def _kinds(purge_type: str) -> list[str]:
    return list(EDGE_KINDS) if purge_type == "all" else [purge_type]


def purge_response(purge: Row) -> PurgeResponse:
    seconds = max((_PROVIDER_SECONDS.get(r["provider"], 60) for r in purge["results"]),
                  default=0)
    return PurgeResponse(
        purge_request=PurgeRequestInfo(
            id=purge["id"], status=purge["status"], files_count=len(purge["file_ids"]),
            purge_type=purge["purge_type"], created_at=purge["created_at"],
            estimated_completion=purge["created_at"] + timedelta(seconds=seconds),
            completed_at=purge["completed_at"]),
        cdn_providers=[ProviderStatus(
            provider=r["provider"], status=r["status"], urls_purged=r["urls_purged"],
            error=ProviderError(code=r["error_code"], message=r["error_message"] or "")
            if r["error_code"] else None) for r in purge["results"]],
    )


async def request(ctx: AppContext, principal: Principal, body: PurgeBody) -> PurgeResponse:
    ids = body.ids()
    async with ctx.db.connection() as repo:
        rows = [await load_file(repo, principal, file_id, include_trashed=True)
                for file_id in ids]
    urls = [url for row in rows for url in cdn_urls(ctx, row["id"], _kinds(body.purge_type))]
    purge = await request_purge(ctx, requested_by=principal.user_id, reason="api",
                                purge_type=body.purge_type, file_ids=[r["id"] for r in rows],
                                urls=urls)
    return purge_response(purge)


async def status(ctx: AppContext, principal: Principal, purge_id: str) -> PurgeResponse:
    """A purge's progress, for whoever asked it (or an admin)."""
    key = canonical_id(purge_id)
    async with ctx.db.connection() as repo:
        purge = await repo.edge.purge(key) if key else None
    if purge is None or not (principal.is_admin or purge["requested_by"] == principal.user_id):
        raise NotFound("Purge request not found", details={"purge_id": purge_id})
    return purge_response(purge)


def _cached(url: str) -> CachedUrl | None:
    path = url_path(url)
    parsed = parse_edge_path(path)
    return CachedUrl(parsed[1], url, path) if parsed else None


async def carry_out(ctx: AppContext, purge_id: str) -> str | None:
    """The queue worker: purge at each provider not done yet; the request's final status
    (None when there is no such request). A message delivered twice purges once more at
    most, never less."""
    async with ctx.db.connection() as repo:
        purge = await repo.edge.purge(purge_id)
        if purge is None or purge["status"] == "completed":
            return purge["status"] if purge else None
        await repo.edge.start_purge(purge_id)
    providers = {provider.name: provider for provider in ctx.cdn}
    entries = [entry for entry in map(_cached, purge["urls"]) if entry is not None]
    failed = False
    for result in purge["results"]:
        if result["status"] == "completed":
            continue
        name = result["provider"]
        try:
            provider = providers.get(name)
            if provider is None:
                raise LookupError(f"{name} is not configured on this instance")
            purged = await provider.purge(purge["urls"])
        except Exception as exc:  # whatever the provider did, it is that provider's failure
            log.warning("purge %s at %s failed: %s", purge_id, name, exc)
            failed = True
            async with ctx.db.connection() as repo:
                await repo.edge.set_result(purge_id, name, "failed", error_code=CDN_SYNC_FAILED,
                                           error_message=str(exc)[:500])
            continue
        async with ctx.db.connection() as repo:
            await repo.edge.set_result(purge_id, name, "completed", urls_purged=purged)
            await repo.edge.record_cache_purge(name, entries, ctx.clock())
    final: PurgeStatus = "failed" if failed else "completed"
    async with ctx.db.connection() as repo:
        await repo.edge.finish_purge(purge_id, final, ctx.clock())
    return final


async def retry_due_purges(ctx: AppContext) -> int:
    """The timer: queue again the purges whose message was lost or whose provider failed."""
    async with ctx.db.connection() as repo:
        due = await repo.edge.due_purges(ctx.clock(), _RETRY_BATCH)
    for purge_id in due:
        await send_purge(ctx, purge_id)
    return len(due)
