"""``GET /cdn/stats``: what the edge served for a period, from every provider's own records
(Front Door's access logs, Cloudflare's analytics, Varnish's request log), counted per file
(a variant's URL counts for its source file). A user sees their own files, an admin all;
``file_id`` narrows it to one file (404 when the caller may not see it).

A provider that fails is reported with ``CDN_SYNC_FAILED`` beside the others' figures; when
every provider fails the answer is a 502 with that code.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from shared.auth import Principal
from shared.cdn import CDN_SYNC_FAILED, EDGE_KINDS, EdgeRow, edge_path, parse_edge_path
from shared.cdn.geo import region_of
from shared.context import AppContext
from shared.distribution.models import (
    CdnStats,
    ProviderError,
    ProviderStats,
    StatsQuery,
    StatsResponse,
    TopFile,
)
from shared.errors import ApiError
from shared.files.service import load_file

log = logging.getLogger(__name__)
PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
TOP_FILES = 10
GB = 1024**3


class CdnSyncFailed(ApiError):
    status = 502
    code = CDN_SYNC_FAILED
    message = "Failed to sync file with CDN"


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def summarise(rows: list[tuple[str, EdgeRow]]) -> CdnStats:
    """(file id, row) pairs -> the spec's figures."""
    requests = sum(row.requests for _, row in rows)
    hits = sum(row.hits for _, row in rows)
    sent = sum(row.bytes for _, row in rows)
    per_file: Counter[str] = Counter()
    per_file_bytes: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    for file_id, row in rows:
        per_file[file_id] += row.requests
        per_file_bytes[file_id] += row.bytes
        regions[region_of(row.country)] += row.requests
    top = sorted(per_file.items(), key=lambda item: (-item[1], item[0]))[:TOP_FILES]
    return CdnStats(
        total_requests=requests, cache_hits=hits, cache_misses=requests - hits,
        hit_ratio=_percent(hits, requests), bandwidth_gb=round(sent / GB, 6),
        bandwidth_bytes=sent,
        top_files=[TopFile(file_id=file_id, requests=count,
                           bandwidth_gb=round(per_file_bytes[file_id] / GB, 6))
                   for file_id, count in top],
        geographic_distribution={region: _percent(count, requests)
                                 for region, count in regions.most_common()},
    )


async def cdn_stats(ctx: AppContext, principal: Principal, query: StatsQuery
                    ) -> StatsResponse:
    until = ctx.clock()
    since = until - PERIODS[query.period]
    paths: list[str] | None = None
    if query.file_id is not None:
        async with ctx.db.connection() as repo:
            row = await load_file(repo, principal, query.file_id, include_trashed=True)
        paths = [edge_path(kind, row["id"]) for kind in EDGE_KINDS]
    rows: list[tuple[str, EdgeRow]] = []
    reports: list[ProviderStats] = []
    for provider in ctx.cdn:
        try:
            found = await provider.stats(since, until, paths)
        except Exception as exc:  # the provider's failure, reported beside the others
            log.warning("statistics of %s failed: %s", provider.name, exc)
            reports.append(ProviderStats(provider=provider.name, status="failed", error=(
                ProviderError(code=CDN_SYNC_FAILED, message=str(exc)[:500]))))
            continue
        reports.append(ProviderStats(provider=provider.name, status="ok"))
        for edge_row in found:
            parsed = parse_edge_path(edge_row.path)
            if parsed is not None:
                rows.append((parsed[1], edge_row))
    if reports and all(report.status == "failed" for report in reports):
        raise CdnSyncFailed(details={"providers": [r.model_dump() for r in reports]})
    if not principal.is_admin and paths is None:
        async with ctx.db.connection() as repo:
            mine = await repo.edge.owned(principal.user_id, sorted({f for f, _ in rows}))
        rows = [(file_id, row) for file_id, row in rows if file_id in mine]
    return StatsResponse(period=query.period, file_id=query.file_id, stats=summarise(rows),
                         cdn_providers=reports)
