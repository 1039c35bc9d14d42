"""Signed URLs (SAS) are generated locally from the account key: at most 15 minutes, and
HTTPS-only outside local development (Azurite speaks plain HTTP)."""

from __future__ import annotations

import base64
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.settings import DEV_ACCOUNT_KEY, Settings
from shared.storage.azure_blob import AzureBlobStore

pytestmark = pytest.mark.anyio
CONNECTION = ("DefaultEndpointsProtocol=https;AccountName=acct;"
              f"AccountKey={DEV_ACCOUNT_KEY};EndpointSuffix=core.windows.net")


async def _sas(environment: str) -> dict[str, list[str]]:
    settings = Settings.model_validate({"AZURE_STORAGE_CONNECTION_STRING": CONNECTION,
                                        "AZURE_FUNCTIONS_ENVIRONMENT": environment,
                                        "SIGNED_URL_EXPIRES": "7200",
                                        # whatever a session fixture left in the environment
                                        "JWT_SECRET": "a-production-secret-of-40-bytes-or-so!!"})
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


async def test_without_an_account_key_the_sas_is_signed_with_a_user_delegation_key() -> None:
    """Managed identity (no account key): the SAS carries the delegation key's identity
    (skoid/sktid), and one delegation key serves many SAS."""
    from azure.storage.blob import UserDelegationKey

    settings = Settings.model_validate({"AZURE_STORAGE_ACCOUNT": "acct",
                                        "AZURE_FUNCTIONS_ENVIRONMENT": "Production",
                                        "JWT_SECRET": "a-production-secret-of-40-bytes-or-so!!"})
    store = AzureBlobStore(settings)
    asked: list[datetime] = []

    class Service:
        account_name = "acct"
        credential = object()  # a token credential: no account_key

        async def get_user_delegation_key(self, start: datetime, expiry: datetime
                                          ) -> UserDelegationKey:
            asked.append(expiry)
            key = UserDelegationKey()
            key.signed_oid, key.signed_tid = "oid-1", "tid-1"
            key.signed_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            key.signed_expiry = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
            key.signed_service, key.signed_version = "b", "2024-08-04"
            key.value = base64.b64encode(b"k" * 32).decode()
            return key

        def get_container_client(self, name: str) -> Any:
            from azure.storage.blob import ContainerClient

            return ContainerClient("https://acct.blob.core.windows.net", name)

    async def service() -> Any:
        return Service()

    store.service = service  # type: ignore[method-assign]
    urls = [await store.signed_url("users/a/b.png", expires_in=settings.sas_lifetime)
            for _ in range(3)]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(urls[0]).query)
    assert query["skoid"] == ["oid-1"] and query["sktid"] == ["tid-1"]
    assert query["spr"] == ["https"]
    assert len(asked) == 1
