"""Tokens checked against a JWKS document served over loopback (Entra ID's, in Azure): issuer
and audience required, keys fetched off the event loop, withdrawn keys stop working, and
unknown key ids cannot make the service hammer the endpoint."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from shared import auth
from shared.auth import Principal, Role
from shared.errors import ServiceUnavailable, Unauthorized
from shared.jwks import KeySet
from shared.settings import Settings
from tests.jwks_server import AUDIENCE, ISSUER, JwksServer, serve_jwks
from tests.unit.auth.test_auth import SECRET, bearer, claims, hand_made_token

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture(scope="module")
def provider() -> Iterator[JwksServer]:
    with serve_jwks() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        patch.setenv("no_proxy", "127.0.0.1,localhost")
        server.add_key("rsa-1")
        server.add_key("rsa-2", publish=False)
        server.add_key("ec-1", kind="ec", publish=False)
        yield server


@pytest.fixture
def jwks(provider: JwksServer, monkeypatch: pytest.MonkeyPatch) -> JwksServer:
    """The provider as published at the start of a test, with the service's caches empty."""
    provider.published = {"rsa-1"}
    provider.status = 200
    provider.requests.clear()
    provider.hold.set()
    provider.entered.clear()
    auth._key_set.cache_clear()
    monkeypatch.setattr(auth, "_verified", auth._VerifiedTokens())
    return provider


def jwks_settings(server: JwksServer, **values: str) -> Settings:
    return Settings(**{"JWT_JWKS_URL": server.url, "JWT_ISSUER": ISSUER,
                       "JWT_AUDIENCE": AUDIENCE,
                       "AZURE_FUNCTIONS_ENVIRONMENT": "Development"} | values)


def authenticate(token: str, configured: Settings) -> Principal:
    return asyncio.run(auth.authenticate(f"Bearer {token}", configured))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- what is accepted ---------------------------------------------------------------------

def test_an_rs256_token_for_this_issuer_and_audience_is_accepted(jwks: JwksServer) -> None:
    token = jwks.token(sub="entra-oid", role=None, roles=["Premium"])
    assert authenticate(token, jwks_settings(jwks)) == Principal("entra-oid", Role.PREMIUM)
    assert jwks.requests, "the JWKS document was never fetched"


def test_an_es256_key_works_too(jwks: JwksServer) -> None:
    jwks.published.add("ec-1")
    assert authenticate(jwks.token("ec-1"), jwks_settings(jwks)).user_id == "user-1"


def test_several_audiences_in_the_token_are_fine(jwks: JwksServer) -> None:
    token = jwks.token(aud=[AUDIENCE, "api://other"])
    assert authenticate(token, jwks_settings(jwks)).user_id == "user-1"


# --- issuer and audience: required, and checked -------------------------------------------

@pytest.mark.parametrize("foreign", [
    {"iss": "https://evil.example"},
    {"iss": "https://login.example/tenant-b/v2.0"},  # same keys, another tenant
    {"aud": "api://someone-else"},
    {"iss": "https://evil.example", "aud": "api://someone-else", "role": "admin"},
    {"iss": None},
    {"aud": None},
])
def test_a_token_for_another_issuer_or_audience_is_refused(jwks: JwksServer,
                                                          foreign: dict) -> None:
    with pytest.raises(Unauthorized):
        authenticate(jwks.token(**foreign), jwks_settings(jwks))


@pytest.mark.parametrize("missing", [("JWT_ISSUER",), ("JWT_AUDIENCE",),
                                     ("JWT_ISSUER", "JWT_AUDIENCE")])
def test_the_service_refuses_to_start_without_issuer_and_audience(jwks: JwksServer,
                                                                 missing: tuple) -> None:
    with pytest.raises(ValueError, match="JWT_ISSUER and JWT_AUDIENCE are required"):
        jwks_settings(jwks, **dict.fromkeys(missing, ""))


def test_the_jwks_url_must_be_https_outside_local_development(jwks: JwksServer) -> None:
    with pytest.raises(ValueError, match="https"):
        jwks_settings(jwks, AZURE_FUNCTIONS_ENVIRONMENT="Production")
    assert jwks_settings(jwks, JWT_JWKS_URL="https://login.example/keys",
                         AZURE_FUNCTIONS_ENVIRONMENT="Production")


# --- what is refused ----------------------------------------------------------------------

def test_hs256_signed_with_the_public_key_is_refused(jwks: JwksServer) -> None:
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    pem = jwks.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    token = hand_made_token(header, claims(role="admin", iss=ISSUER, aud=AUDIENCE), pem)
    with pytest.raises(Unauthorized):
        authenticate(token, jwks_settings(jwks))


def test_tokens_signed_with_the_shared_secret_are_refused(jwks: JwksServer) -> None:
    token = bearer(claims(role="admin", iss=ISSUER, aud=AUDIENCE), headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        asyncio.run(auth.authenticate(token, jwks_settings(jwks, JWT_SECRET=SECRET)))


def test_another_key_under_a_published_key_id_is_refused(jwks: JwksServer) -> None:
    with pytest.raises(Unauthorized):
        authenticate(jwks.token("rsa-1", key_of="rsa-2"), jwks_settings(jwks))


@pytest.mark.parametrize("kid", ["unknown-kid", None, "", "k" * 300])
def test_a_key_id_that_is_not_published_is_refused(jwks: JwksServer, kid: str | None) -> None:
    token = jwks.token(kid, key_of="rsa-1")
    with pytest.raises(Unauthorized):
        authenticate(token, jwks_settings(jwks))


def test_alg_none_is_refused(jwks: JwksServer) -> None:
    token = hand_made_token({"alg": "none", "kid": "rsa-1"},
                            claims(role="admin", iss=ISSUER, aud=AUDIENCE), b"")
    with pytest.raises(Unauthorized):
        authenticate(token.rsplit(".", 1)[0] + ".", jwks_settings(jwks))


def test_an_algorithm_that_does_not_fit_the_key_is_a_401_not_a_crash(
        jwks: JwksServer) -> None:
    """An ES256 token naming the RSA key's kid needs no secret at all to make."""
    with pytest.raises(Unauthorized):
        authenticate(jwks.token("rsa-1", key_of="ec-1", role="admin"), jwks_settings(jwks))


# --- the document is fetched off the event loop, once for concurrent callers --------------

def test_the_document_is_fetched_off_the_event_loop(jwks: JwksServer) -> None:
    """While the provider is slow to answer, the loop goes on serving other requests."""
    jwks.hold.clear()
    configured = jwks_settings(jwks)

    async def scenario() -> tuple[bool, Principal]:
        pending = asyncio.create_task(auth.authenticate(f"Bearer {jwks.token()}", configured))
        for _ in range(500):  # the loop keeps turning while the fetch waits
            if jwks.entered.is_set():
                break
            await asyncio.sleep(0.01)
        loop_ran_during_fetch = jwks.entered.is_set() and not pending.done()
        jwks.hold.set()
        return loop_ran_during_fetch, await pending

    loop_ran, principal = asyncio.run(scenario())
    assert loop_ran and principal.user_id == "user-1"


def test_concurrent_callers_share_one_fetch(jwks: JwksServer) -> None:
    jwks.hold.clear()
    configured = jwks_settings(jwks)

    async def burst() -> list[Principal]:
        callers = [asyncio.create_task(auth.authenticate(
            f"Bearer {jwks.token(sub=f'user-{i}')}", configured)) for i in range(30)]
        while not jwks.entered.is_set():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        jwks.hold.set()
        return await asyncio.gather(*callers)

    assert len(asyncio.run(burst())) == 30
    assert len(jwks.requests) == 1


# --- keys expire --------------------------------------------------------------------------

def test_a_withdrawn_key_stops_working_within_the_key_lifetime(jwks: JwksServer,
                                                              monkeypatch) -> None:
    """Through authenticate, with the verified-token cache in the way: after at most
    ``max_age`` the withdrawn key verifies nothing, and the new key works."""
    clock = Clock()
    key_set = KeySet(jwks.url, clock=clock)
    monkeypatch.setattr(auth, "_key_set", lambda url: key_set)
    wall = [time.time()]
    monkeypatch.setattr(auth.time, "time", lambda: wall[0])
    configured = jwks_settings(jwks)
    old = jwks.token("rsa-1", exp=int(wall[0]) + 3600)
    assert authenticate(old, configured).user_id == "user-1"

    jwks.published = {"rsa-2"}  # rotated: rsa-1 withdrawn
    clock.now += 299
    wall[0] += 299
    assert authenticate(old, configured).user_id == "user-1"  # still within the lifetime
    clock.now += 2
    wall[0] += 2
    with pytest.raises(Unauthorized):
        authenticate(old, configured)
    assert authenticate(jwks.token("rsa-2"), configured).user_id == "user-1"


def test_an_unknown_key_id_refetches_at_most_once_per_interval(jwks: JwksServer) -> None:
    clock = Clock()
    key_set = KeySet(jwks.url, clock=clock)

    async def ask(kid: str) -> None:
        await key_set.key(kid)

    asyncio.run(ask("rsa-1"))
    assert len(jwks.requests) == 1
    for number in range(50):  # random key ids: refused without a fetch each
        with pytest.raises(Unauthorized):
            asyncio.run(ask(f"random-{number}"))
        clock.now += 0.5
    assert len(jwks.requests) == 1
    jwks.published = {"rsa-1", "rsa-2"}  # a real rotation is picked up after the interval
    clock.now += 30
    asyncio.run(ask("rsa-2"))
    assert len(jwks.requests) == 2


def test_keys_held_outlive_a_failing_provider_up_to_the_stale_limit(jwks: JwksServer) -> None:
    clock = Clock()
    key_set = KeySet(jwks.url, clock=clock)
    asyncio.run(key_set.key("rsa-1"))
    jwks.status = 500
    clock.now += 600  # past max_age: the refetch fails, the held key keeps working
    assert asyncio.run(key_set.key("rsa-1")).key_id == "rsa-1"
    clock.now += 3600  # past the stale limit: 503, not a wrongful 401
    with pytest.raises(ServiceUnavailable):
        asyncio.run(key_set.key("rsa-1"))


def test_no_document_yet_is_a_503(jwks: JwksServer) -> None:
    jwks.status = 503
    with pytest.raises(ServiceUnavailable):
        asyncio.run(auth.authenticate(f"Bearer {jwks.token()}", jwks_settings(jwks)))
