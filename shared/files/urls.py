"""The URLs a client is given for a file."""

from __future__ import annotations

from collections.abc import Mapping

from shared.cdn import KIND_OF_VARIANT, edge_path
from shared.db import Row
from shared.files.models import FileUrls
from shared.settings import Settings

API_PREFIX = "/api/v1/storage"


def file_urls(row: Row, settings: Settings, variants: Mapping[str, str] | None = None
              ) -> FileUrls:
    """The download URL always; the CDN URLs (``cdn``, and ``thumbnail`` / ``preview`` once
    such a variant exists) only for a live public file when a CDN is configured: the edge
    serves nothing else, and a private file's URL must not leak into a shared cache. Other
    files' variants are given as the API's stream URL (``/stream/{id}?variant=``)."""
    base = settings.public_base_url.rstrip("/")
    urls = FileUrls(download=f"{base}{API_PREFIX}/download/{row['id']}")
    cdn = settings.cdn_endpoint.rstrip("/")
    if not (cdn and row["is_public"] and row["deleted_at"] is None):
        for variant in variants or {}:  # served by the API, with the file's own access rules
            if variant in KIND_OF_VARIANT:
                setattr(urls, variant, f"{base}{API_PREFIX}/stream/{row['id']}?variant={variant}")
        return urls
    urls.cdn = cdn + edge_path("files", row["id"])
    for variant in variants or {}:
        kind = KIND_OF_VARIANT.get(variant)
        if kind is not None:
            setattr(urls, variant, cdn + edge_path(kind, row["id"]))
    return urls
