"""CDN providers behind one interface (``base.CdnProvider``): Azure Front Door, Cloudflare and,
locally, Varnish. Every provider whose settings are present is purged and asked for
statistics; with none, files get no CDN URL."""

from __future__ import annotations

from shared.cdn.base import (
    CDN_SYNC_FAILED,
    EDGE_KINDS,
    KIND_OF_VARIANT,
    CdnError,
    CdnProvider,
    EdgeRow,
    edge_path,
    parse_edge_path,
    url_path,
)
from shared.cdn.cloudflare import CloudflareEdge
from shared.cdn.frontdoor import FrontDoorEdge
from shared.cdn.varnish import VarnishEdge
from shared.settings import Settings

__all__ = [
    "CDN_SYNC_FAILED", "EDGE_KINDS", "KIND_OF_VARIANT", "CdnError", "CdnProvider", "EdgeRow",
    "edge_path", "parse_edge_path", "providers_for", "url_path",
]


def providers_for(settings: Settings) -> tuple[CdnProvider, ...]:
    providers: list[CdnProvider] = []
    if settings.front_door_profile_id and settings.front_door_endpoint_name:
        providers.append(FrontDoorEdge(settings.front_door_profile_id,
                                       settings.front_door_endpoint_name))
    if settings.cloudflare_zone_id and settings.cloudflare_api_token:
        providers.append(CloudflareEdge(settings.cloudflare_zone_id,
                                        settings.cloudflare_api_token))
    if settings.varnish_url:
        providers.append(VarnishEdge(settings.varnish_url, settings.varnish_log_path,
                                     settings.varnish_workdir))
    return tuple(providers)
