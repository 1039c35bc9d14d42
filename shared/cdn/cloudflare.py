"""Cloudflare, the optional second CDN (``CLOUDFLARE_ZONE_ID``, ``CLOUDFLARE_API_TOKEN``):
purge by URL through its REST API, statistics from its GraphQL Analytics API
(``httpRequestsAdaptiveGroups``: requests by path, client country and cache status)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import httpx

from shared.cdn.base import CdnError, EdgeRow

API = "https://api.cloudflare.com/client/v4"
_URLS_PER_PURGE = 30  # Cloudflare's limit of files per purge request
_HIT_STATUSES = {"hit", "stale", "updating", "revalidated"}
_ANALYTICS = """
query Edge($zone: String!, $filter: ZoneHttpRequestsAdaptiveGroupsFilter_InputObject!) {
  viewer { zones(filter: {zoneTag: $zone}) {
    httpRequestsAdaptiveGroups(limit: 10000, filter: $filter) {
      count
      sum { edgeResponseBytes }
      dimensions { clientRequestPath clientCountryName cacheStatus }
    }
  } }
}
"""


class CloudflareEdge:
    name = "cloudflare"

    def __init__(self, zone_id: str, api_token: str, *, api: str = API,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.zone_id = zone_id
        self._token = api_token
        self._api = api
        self._transport = transport  # tests hand in one that answers as Cloudflare does

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self._api, transport=self._transport,
                                 headers={"Authorization": f"Bearer {self._token}"},
                                 timeout=httpx.Timeout(10.0))

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.request(method, path, json=body)
            answer: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CdnError(f"Cloudflare unreachable: {exc}") from exc
        errors = answer.get("errors") or []
        if response.status_code >= 400 or answer.get("success") is False or errors:
            raise CdnError(f"Cloudflare answered {response.status_code}: {errors}"[:500])
        return answer

    async def purge(self, urls: Sequence[str]) -> int:
        unique = sorted(set(urls))
        for start in range(0, len(unique), _URLS_PER_PURGE):
            await self._call("POST", f"/zones/{self.zone_id}/purge_cache",
                             {"files": unique[start:start + _URLS_PER_PURGE]})
        return len(unique)

    async def stats(self, since: datetime, until: datetime,
                    paths: Sequence[str] | None = None) -> list[EdgeRow]:
        filters: dict[str, Any] = {"datetime_geq": since.isoformat(),
                                   "datetime_lt": until.isoformat()}
        if paths is not None:
            filters["clientRequestPath_in"] = list(paths)
        answer = await self._call("POST", "/graphql", {
            "query": _ANALYTICS, "variables": {"zone": self.zone_id, "filter": filters}})
        zones = ((answer.get("data") or {}).get("viewer") or {}).get("zones") or []
        rows: dict[tuple[str, str], list[int]] = {}
        for group in (zones[0].get("httpRequestsAdaptiveGroups") or []) if zones else []:
            dims = group["dimensions"]
            key = (dims["clientRequestPath"], dims.get("clientCountryName") or "unknown")
            totals = rows.setdefault(key, [0, 0, 0])
            count = int(group["count"])
            totals[0] += count
            totals[1] += count if dims.get("cacheStatus") in _HIT_STATUSES else 0
            totals[2] += int((group.get("sum") or {}).get("edgeResponseBytes") or 0)
        return [EdgeRow(path, country, *totals) for (path, country), totals in rows.items()]

    async def probe(self) -> dict[str, Any]:
        await self._call("GET", f"/zones/{self.zone_id}")
        return {}  # the hit ratio comes from the analytics (GET /cdn/stats)
