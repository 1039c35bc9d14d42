"""Tokens from an identity provider's JWKS, through a devhost configured as in Azure: only
tokens issued for this API by the configured issuer get in."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.helpers import assert_error
from tests.jwks_server import AUDIENCE, ISSUER, JwksServer, serve_jwks

FILES = "/api/v1/storage/files"


@pytest.fixture(scope="module")
def provider() -> Iterator[JwksServer]:
    with serve_jwks() as server:
        server.add_key("rsa-1")
        yield server


@pytest.fixture(scope="module")
def entra(devhost_with, provider: JwksServer) -> httpx.Client:
    return devhost_with(JWT_JWKS_URL=provider.url, JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE,
                        NO_PROXY="127.0.0.1,localhost")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_issued_for_this_api_gets_in(entra, provider, user):
    response = entra.get(FILES, headers=bearer(provider.token(sub=user)))
    assert response.status_code == 200, response.text
    assert response.json()["files"] == []


@pytest.mark.parametrize("foreign", [
    {"iss": "https://evil.example"},
    {"iss": "https://login.example/tenant-b/v2.0"},
    {"aud": "api://another-app"},
    {"iss": "https://evil.example", "aud": "api://another-app"},
], ids=["issuer", "other tenant", "audience", "both"])
def test_a_token_for_another_issuer_or_audience_is_401(entra, provider, user, foreign):
    """Entra signs every tenant's tokens with the same keys: a valid signature is not enough."""
    token = provider.token(sub=user, role="admin", **foreign)
    assert_error(entra.get(FILES, headers=bearer(token)), 401, "UNAUTHORIZED")
    assert_error(entra.get(FILES, headers=bearer(token), params={"user_id": "someone"}), 401,
                 "UNAUTHORIZED")


def test_development_tokens_do_not_work_against_a_jwks(entra, auth_headers, user):
    assert_error(entra.get(FILES, headers=auth_headers(user, "admin")), 401, "UNAUTHORIZED")


def test_the_service_refuses_to_start_without_issuer_and_audience(stack_env, provider,
                                                                  tmp_path):
    from devhost.errors import StackError
    from devhost.hostprocess import DevhostProcess
    from devhost.ports import free_ports

    port = free_ports(1)[0]
    env = {**stack_env, "JWT_JWKS_URL": provider.url, "JWT_AUDIENCE": AUDIENCE,
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "AzureWebJobs.backup_new_blob.Disabled": "true"}
    with pytest.raises(StackError, match="JWT_ISSUER and JWT_AUDIENCE are required"):
        DevhostProcess(env, port, log_path=tmp_path / "devhost.log").start()
