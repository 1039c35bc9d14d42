"""Azure Front Door (Standard), the CDN of the Azure deployment (infra/bicep/modules/
frontdoor.bicep): purges through azure-mgmt-cdn, statistics from its access logs
(``FrontDoorAccessLog`` in Log Analytics) through azure-monitor-query, queried in the
profile's resource context (the app holds Monitoring Reader on the profile only). Both with
the app's managed identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.cdn.base import CdnError, EdgeRow, url_path

_PATHS_PER_PURGE = 100  # Front Door's limit of content paths per purge request
# Requests by path and client country; cache statuses that the edge served itself count as
# hits. Paths are the edge's own (the routes' /files/*, /thumbnails/*, /previews/*).
_QUERY = """
AzureDiagnostics
| where Category == "FrontDoorAccessLog"
| extend path = tostring(parse_url(requestUri_s).Path)
| where path matches regex @"^/(files|thumbnails|previews)/[0-9a-fA-F-]{36}$"{only}
| summarize requests = count(),
    hits = countif(cacheStatus_s in ("HIT", "REMOTE_HIT", "PARTIAL_HIT")),
    bytes = sum(tolong(responseBytes_s))
    by path, country = tostring(clientCountry_s)
| take 50000
"""


def _parse_profile_id(profile_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, profile name) of a profile's resource id."""
    parts = profile_id.strip("/").split("/")
    try:
        keyed = {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}
        return keyed["subscriptions"], keyed["resourcegroups"], keyed["profiles"]
    except (KeyError, IndexError):
        raise ValueError(f"not a Front Door profile id: {profile_id!r}") from None


def _kql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stats_query(paths: Sequence[str] | None) -> str:
    only = "" if paths is None else \
        f"\n| where path in ({', '.join(_kql_string(p) for p in paths)})"
    return _QUERY.replace("{only}", only)


class FrontDoorEdge:
    name = "azure_cdn"

    def __init__(self, profile_id: str, endpoint_name: str) -> None:
        self.profile_id = profile_id
        self.subscription, self.resource_group, self.profile = _parse_profile_id(profile_id)
        self.endpoint = endpoint_name

    def _credential(self) -> Any:
        from azure.identity.aio import DefaultAzureCredential

        return DefaultAzureCredential()

    async def purge(self, urls: Sequence[str]) -> int:
        from azure.core.exceptions import AzureError
        from azure.mgmt.cdn.aio import CdnManagementClient
        from azure.mgmt.cdn.models import AfdPurgeParameters

        paths = sorted({url_path(url) for url in urls})
        try:
            async with self._credential() as credential, \
                    CdnManagementClient(credential, self.subscription) as client:
                for start in range(0, len(paths), _PATHS_PER_PURGE):
                    poller = await client.afd_endpoints.begin_purge_content(
                        self.resource_group, self.profile, self.endpoint,
                        AfdPurgeParameters(content_paths=paths[start:start + _PATHS_PER_PURGE]))
                    await poller.result()
        except AzureError as exc:
            raise CdnError(f"Front Door purge failed: {exc}") from exc
        return len(paths)

    async def stats(self, since: datetime, until: datetime,
                    paths: Sequence[str] | None = None) -> list[EdgeRow]:
        from azure.core.exceptions import AzureError
        from azure.monitor.query import LogsQueryStatus
        from azure.monitor.query.aio import LogsQueryClient

        try:
            async with self._credential() as credential, LogsQueryClient(credential) as client:
                result = await client.query_resource(self.profile_id, stats_query(paths),
                                                     timespan=(since, until))
        except AzureError as exc:
            raise CdnError(f"Front Door logs unavailable: {exc}") from exc
        if result.status != LogsQueryStatus.SUCCESS:
            raise CdnError("Front Door logs answered partially")
        table = result.tables[0]
        return [EdgeRow(str(row["path"]), str(row["country"] or "unknown"),
                        int(row["requests"]), int(row["hits"]), int(row["bytes"] or 0))
                for row in table.rows]

    async def probe(self) -> dict[str, Any]:
        from azure.mgmt.cdn.aio import CdnManagementClient

        async with self._credential() as credential, \
                CdnManagementClient(credential, self.subscription) as client:
            endpoint = await client.afd_endpoints.get(self.resource_group, self.profile,
                                                      self.endpoint)
        if endpoint.enabled_state != "Enabled":  # the SDK's enums are str enums
            raise CdnError(f"Front Door endpoint is {endpoint.enabled_state}")
        return {}  # hit ratio and cache size come only from the logs (GET /cdn/stats)
