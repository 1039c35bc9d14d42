"""The URLs a client is given for a file."""

from __future__ import annotations

from shared.files.models import FileUrls
from shared.settings import Settings

API_PREFIX = "/api/v1/storage"


def file_urls(file_id: str, settings: Settings) -> FileUrls:
    base = settings.public_base_url.rstrip("/")
    cdn = settings.cdn_endpoint.rstrip("/")
    return FileUrls(
        download=f"{base}{API_PREFIX}/download/{file_id}",
        cdn=f"{cdn}/files/{file_id}" if cdn else None,
    )
