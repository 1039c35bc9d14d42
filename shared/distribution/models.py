"""Pydantic models of the CDN routes, in the spec's shapes (extra fields are additions)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PurgeType = Literal["all", "files", "thumbnails", "previews"]
Period = Literal["24h", "7d", "30d"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PurgeBody(_Strict):
    """Body of ``POST /cdn/purge``: the files whose CDN URLs to purge; ``purge_type`` narrows
    it to the files themselves, their thumbnails or their previews."""

    file_ids: list[str] = Field(min_length=1, max_length=100)
    purge_type: PurgeType = "all"

    def ids(self) -> list[str]:
        return list(dict.fromkeys(self.file_ids))  # once each, in the order given


class ProviderError(BaseModel):
    code: str
    message: str


class ProviderStatus(BaseModel):
    provider: str
    status: Literal["queued", "processing", "completed", "failed"]
    urls_purged: int
    error: ProviderError | None = None


class PurgeRequestInfo(BaseModel):
    id: str
    status: Literal["queued", "processing", "completed", "failed"]
    files_count: int
    purge_type: str
    estimated_completion: datetime
    created_at: datetime
    completed_at: datetime | None = None


class PurgeResponse(BaseModel):
    purge_request: PurgeRequestInfo
    cdn_providers: list[ProviderStatus]


class StatsQuery(_Strict):
    period: Period = "24h"
    file_id: str | None = Field(None, min_length=1, max_length=64)


class TopFile(BaseModel):
    file_id: str
    requests: int
    bandwidth_gb: float


class CdnStats(BaseModel):
    total_requests: int
    cache_hits: int
    cache_misses: int
    hit_ratio: float = Field(description="percent of requests the edge served from its cache")
    bandwidth_gb: float
    bandwidth_bytes: int
    top_files: list[TopFile]
    geographic_distribution: dict[str, float] = Field(
        description="percent of requests by region of the client's country")


class ProviderStats(BaseModel):
    provider: str
    status: Literal["ok", "failed"]
    error: ProviderError | None = None


class StatsResponse(BaseModel):
    period: Period
    file_id: str | None = None
    stats: CdnStats
    cdn_providers: list[ProviderStats]
