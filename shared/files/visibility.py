"""What must happen when a file's public answers stop being true: it was made private,
renamed, trashed, deleted or it expired. This is the one place every such change goes
through: the CDN drops the file's URLs at once (one state everywhere).

A variant (a thumbnail, a preview) is served at its source's URL (``/thumbnails/{source}``),
so a variant that goes away purges its source's URL too.
"""

from __future__ import annotations

from shared.cdn import KIND_OF_VARIANT
from shared.context import AppContext
from shared.db import Row
from shared.files.edge import SYSTEM, cdn_urls, request_purge


def publicly_readable(row: Row) -> bool:
    return bool(row["is_public"]) and row["deleted_at"] is None


async def public_access_ended(ctx: AppContext, row: Row, reason: str = "changed") -> None:
    """``row`` as it was before the change. Purges the edge's URLs of the file when it was
    public, and its sources' variant URLs when it is a variant."""
    if not ctx.cdn or not ctx.settings.cdn_endpoint:
        return
    async with ctx.db.connection() as repo:
        sources = await repo.edge.variant_sources(row["id"])
    urls = cdn_urls(ctx, row["id"]) if publicly_readable(row) else []
    for source_id, variant in sources:
        if variant in KIND_OF_VARIANT:
            urls += cdn_urls(ctx, source_id, [KIND_OF_VARIANT[variant]])
    if urls:
        file_ids = [row["id"], *sorted({source for source, _ in sources})]
        await request_purge(ctx, requested_by=SYSTEM, reason=reason, purge_type="all",
                            file_ids=file_ids, urls=urls)
