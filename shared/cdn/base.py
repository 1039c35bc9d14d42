"""The one small interface every CDN provider implements (Front Door, Cloudflare, the local
Varnish), and the URL shapes of the edge.

A public file is served by the edge at ``{AZURE_CDN_ENDPOINT}/files/{id}``, its variants at
``/thumbnails/{id}`` and ``/previews/{id}`` (the spec's URL shapes); the edge fetches them
from the app's routes of the same paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from shared.ids import canonical_id

# Edge path segment -> the variant it serves (None: the file itself).
EDGE_KINDS: dict[str, str | None] = {"files": None, "thumbnails": "thumbnail",
                                     "previews": "preview"}
KIND_OF_VARIANT = {variant: kind for kind, variant in EDGE_KINDS.items() if variant}


def edge_path(kind: str, file_id: str) -> str:
    return f"/{kind}/{file_id}"


def parse_edge_path(path: str) -> tuple[str, str] | None:
    """``/thumbnails/<uuid>`` -> ("thumbnails", "<uuid>"); None for anything else."""
    parts = path.split("/")
    if len(parts) != 3 or parts[0] or parts[1] not in EDGE_KINDS:
        return None
    file_id = canonical_id(parts[2])
    return (parts[1], file_id) if file_id else None


def url_path(url: str) -> str:
    return urlsplit(url).path or "/"


@dataclass(frozen=True)
class EdgeRow:
    """Requests to one path from one client country (an ISO code, a name or "unknown")."""

    path: str
    country: str
    requests: int
    hits: int
    bytes: int


# The spec's code for a provider that failed: in a purge's per-provider status, in /health.
CDN_SYNC_FAILED = "CDN_SYNC_FAILED"


class CdnError(Exception):
    """The provider refused or could not be reached; the message says what it answered."""


class CdnProvider(Protocol):
    """``name`` is the provider's name in purge statuses and health (azure_cdn, cloudflare,
    varnish)."""

    @property
    def name(self) -> str: ...

    async def purge(self, urls: Sequence[str]) -> int:
        """Drop these URLs from the edge's caches; the number purged. ``CdnError``."""
        ...

    async def stats(self, since: datetime, until: datetime,
                    paths: Sequence[str] | None = None) -> list[EdgeRow]:
        """Requests in [since, until), by path and client country; only ``paths`` when
        given. ``CdnError``."""
        ...

    async def probe(self) -> dict[str, Any]:
        """A real round trip to the provider; ``hit_ratio`` (0..1) and ``cache_size_bytes``
        when the provider gives them. Raises when the provider is not reachable."""
        ...
