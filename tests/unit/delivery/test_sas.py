"""Signed URLs (SAS) are generated locally from the account key: at most 15 minutes, and
HTTPS-only outside local development (Azurite speaks plain HTTP)."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from shared.settings import DEV_ACCOUNT_KEY, Settings
from shared.storage.azure_blob import AzureBlobStore

pytestmark = pytest.mark.anyio
CONNECTION = ("DefaultEndpointsProtocol=https;AccountName=acct;"
              f"AccountKey={DEV_ACCOUNT_KEY};EndpointSuffix=core.windows.net")


async def _sas(environment: str) -> dict[str, list[str]]:
    settings = Settings.model_validate({"AZURE_STORAGE_CONNECTION_STRING": CONNECTION,
                                        "AZURE_FUNCTIONS_ENVIRONMENT": environment,
                                        "SIGNED_URL_EXPIRES": "7200"})
    url = await AzureBlobStore(settings).signed_url("users/a/b.png",
                                                    expires_in=settings.sas_lifetime)
    assert url is not None
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)


async def test_outside_local_development_a_sas_is_https_only_and_short() -> None:
    query = await _sas("Production")
    assert query["spr"] == ["https"] and query["sp"] == ["r"]
    expiry = datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert expiry - datetime.now(UTC) <= timedelta(minutes=15, seconds=1)


async def test_local_development_allows_http_for_azurite() -> None:
    assert "spr" not in await _sas("Development")
