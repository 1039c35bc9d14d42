"""Bearer-token authentication: HS256 with a shared secret, RS256 through a JWKS document."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from shared import auth
from shared.auth import Principal, Role
from shared.errors import Unauthorized
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://login.example/tenant/v2.0"
AUDIENCE = "api://storage"


def settings(**values: str) -> Settings:
    return Settings(JWT_SECRET=SECRET, **values)


def authenticate(header: str | None, configured: Settings) -> Principal:
    """``shared.auth.authenticate`` run to completion (it is a coroutine)."""
    return asyncio.run(auth.authenticate(header, configured))


def claims(sub: str = "user-1", role: str | None = "user", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"sub": sub, "exp": int(time.time()) + 300}
    if role is not None:
        body["role"] = role
    body.update(extra)
    return {key: value for key, value in body.items() if value is not None}


def bearer(payload: dict[str, Any], key: Any = SECRET, algorithm: str = "HS256",
           headers: dict[str, Any] | None = None) -> str:
    return "Bearer " + jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """An HMAC-SHA256 token built by hand, whatever its header claims."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


# --- HS256: who the token names -----------------------------------------------------------

@pytest.mark.parametrize("role", [Role.USER, Role.PREMIUM, Role.ADMIN])
def test_valid_token_names_user_and_role(role: Role) -> None:
    principal = authenticate(bearer(claims("alice", role.value)), settings())
    assert principal == Principal(user_id="alice", role=role)
    assert principal.is_admin is (role is Role.ADMIN)


def test_scheme_is_case_insensitive_and_spaces_are_tolerated() -> None:
    token = jwt.encode(claims("bob"), SECRET, algorithm="HS256")
    assert authenticate(f"bearer {token}", settings()).user_id == "bob"
    assert authenticate(f"BEARER   {token}  ", settings()).user_id == "bob"


def test_role_claim_is_case_insensitive() -> None:
    assert authenticate(bearer(claims(role="Premium")), settings()).role is Role.PREMIUM
    assert authenticate(bearer(claims(role=" ADMIN ")), settings()).role is Role.ADMIN


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["user"], Role.USER),
        (["User", "Premium"], Role.PREMIUM),
        (["premium", "ADMIN", "user"], Role.ADMIN),
        (["Storage.Reader", "premium"], Role.PREMIUM),
    ],
)
def test_entra_roles_array_grants_the_highest_role(roles: list[str], expected: Role) -> None:
    token = bearer(claims(role=None, roles=roles))
    assert authenticate(token, settings()).role is expected


def test_role_and_roles_combine_to_the_highest() -> None:
    token = bearer(claims(role="user", roles=["admin"]))
    assert authenticate(token, settings()).role is Role.ADMIN


def test_token_within_the_clock_leeway_is_accepted() -> None:
    token = bearer(claims(exp=int(time.time()) - 10))
    assert authenticate(token, settings()).user_id == "user-1"


# --- HS256: refusals ----------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized):
        authenticate(header, settings())


@pytest.mark.parametrize(
    "header_template",
    ["Basic {t}", "Token {t}", "{t}", "Bearer", "Bearer ", "Bearer    ", "Bearer\t{t}"],
)
def test_wrong_scheme_or_empty_token_is_unauthorized(header_template: str) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        authenticate(header_template.format(t=token), settings())


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(role="admin"), None, algorithm="none")
    assert token.endswith(".")  # really an unsigned token
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {token}", settings())


def test_alg_none_with_a_signature_part_is_refused() -> None:
    header = {"alg": "none", "typ": "JWT"}
    token = hand_made_token(header, claims(role="admin"), SECRET.encode())
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {token}", settings())


def test_wrong_signature_is_refused() -> None:
    with pytest.raises(Unauthorized):
        authenticate(bearer(claims(), key="another-secret-of-a-decent-length!!"), settings())


def test_tampered_payload_is_refused() -> None:
    token = jwt.encode(claims("alice", "user"), SECRET, algorithm="HS256")
    header, _, signature = token.split(".")
    forged = b64url(json.dumps(claims("alice", "admin")).encode())
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {header}.{forged}.{signature}", settings())


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "...."])
def test_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {token}", settings())


def test_expired_token_beyond_the_leeway_is_refused() -> None:
    token = bearer(claims(exp=int(time.time()) - 60))
    with pytest.raises(Unauthorized, match="expired"):
        authenticate(token, settings())


def test_token_not_yet_valid_is_refused() -> None:
    token = bearer(claims(nbf=int(time.time()) + 600))
    with pytest.raises(Unauthorized):
        authenticate(token, settings())


def test_missing_exp_is_refused() -> None:
    payload = claims()
    del payload["exp"]
    with pytest.raises(Unauthorized):
        authenticate(bearer(payload), settings())


@pytest.mark.parametrize("sub", [None, "", "   ", "x" * 256, 42, ["alice"]])
def test_missing_or_invalid_subject_is_refused(sub: Any) -> None:
    payload = claims()
    if sub is None:
        del payload["sub"]
    else:
        payload["sub"] = sub
    with pytest.raises(Unauthorized):
        authenticate(bearer(payload), settings())


def test_subject_of_255_characters_is_accepted() -> None:
    assert authenticate(bearer(claims("x" * 255)), settings()).user_id == "x" * 255


@pytest.mark.parametrize(
    "role_claims",
    [
        {"role": "superuser"},
        {"role": "Admins"},
        {"role": ""},
        {"role": ["admin"]},  # role must be a string
        {"roles": ["Storage.Reader", "guest"]},
        {"roles": "admin"},  # roles must be an array
        {},
    ],
)
def test_unknown_or_missing_role_is_refused(role_claims: dict[str, Any]) -> None:
    payload = claims(role=None)
    payload.update(role_claims)
    with pytest.raises(Unauthorized):
        authenticate(bearer(payload), settings())


def test_unconfigured_authentication_refuses_everything() -> None:
    token = bearer(claims())
    with pytest.raises(Unauthorized):
        authenticate(token, Settings())


# --- issuer and audience ------------------------------------------------------------------

def test_issuer_and_audience_are_checked_when_configured() -> None:
    configured = settings(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    good = bearer(claims(iss=ISSUER, aud=AUDIENCE))
    assert authenticate(good, configured).user_id == "user-1"
    several = bearer(claims(iss=ISSUER, aud=[AUDIENCE, "other"]))
    assert authenticate(several, configured).user_id == "user-1"


@pytest.mark.parametrize(
    "extra",
    [
        {"iss": "https://evil.example", "aud": AUDIENCE},
        {"aud": AUDIENCE},  # no issuer
        {"iss": ISSUER, "aud": "api://other"},
        {"iss": ISSUER},  # no audience
    ],
)
def test_wrong_or_missing_issuer_or_audience_is_refused(extra: dict[str, Any]) -> None:
    configured = settings(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    with pytest.raises(Unauthorized):
        authenticate(bearer(claims(**extra)), configured)


def test_issuer_and_audience_are_not_required_when_not_configured() -> None:
    token = bearer(claims(iss="anyone", aud="anything"))
    assert authenticate(token, settings()).user_id == "user-1"


# --- the verified-token cache ------------------------------------------------------------

def test_verified_tokens_are_remembered_only_until_they_expire(monkeypatch) -> None:
    cache = auth._VerifiedTokens(size=2)
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now)
    cache.put(("a",), {"exp": now + 60, "sub": "a"})
    assert cache.get(("a",))["sub"] == "a"
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    assert cache.get(("a",)) is None  # expired: verified again (and refused) next time
    cache.put(("b",), {"exp": now + 600})
    cache.put(("c",), {"exp": now + 600})
    cache.put(("d",), {"exp": now + 600})
    assert cache.get(("b",)) is None and cache.get(("d",)) is not None  # bounded, LRU


def test_a_remembered_token_ends_when_its_key_may_be_withdrawn(monkeypatch) -> None:
    """A JWKS key is trusted for minutes: the claims it verified are not trusted longer."""
    cache = auth._VerifiedTokens()
    now = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: now)
    cache.put(("t",), {"exp": now + 3600, "sub": "a"}, trusted_for=120)
    monkeypatch.setattr(auth.time, "time", lambda: now + 119)
    assert cache.get(("t",)) is not None
    monkeypatch.setattr(auth.time, "time", lambda: now + 121)
    assert cache.get(("t",)) is None


def test_an_over_long_token_is_refused_before_it_is_read() -> None:
    padded = bearer(claims(pad="x" * auth.MAX_TOKEN_CHARS))
    with pytest.raises(Unauthorized, match="too long"):
        authenticate(padded, settings())


def test_a_remembered_token_still_needs_the_same_settings() -> None:
    token = jwt.encode(claims(), "first-secret-first-secret-first-secret", algorithm="HS256")
    header = f"Bearer {token}"
    assert authenticate(header, Settings(JWT_SECRET="first-secret-first-secret-first-secret"))
    with pytest.raises(Unauthorized):
        authenticate(header, Settings(JWT_SECRET="other-secret-other-secret-other-secret"))
