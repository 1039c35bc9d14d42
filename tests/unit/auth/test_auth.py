"""Bearer-token authentication: HS256 with a shared secret, RS256 through a JWKS document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth import Principal, Role, authenticate, require_role
from shared.errors import Forbidden, Unauthorized
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://login.example/tenant/v2.0"
AUDIENCE = "api://storage"


def settings(**values: str) -> Settings:
    return Settings(JWT_SECRET=SECRET, **values)


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


# --- require_role -------------------------------------------------------------------------

def test_require_role_lets_listed_roles_through() -> None:
    require_role(Principal("a", Role.ADMIN), Role.ADMIN)
    require_role(Principal("p", Role.PREMIUM), Role.PREMIUM, Role.ADMIN)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.USER, (Role.ADMIN,)),
        (Role.PREMIUM, (Role.ADMIN,)),
        (Role.USER, (Role.PREMIUM, Role.ADMIN)),
    ],
)
def test_require_role_refuses_other_roles(role: Role, allowed: tuple[Role, ...]) -> None:
    with pytest.raises(Forbidden) as info:
        require_role(Principal("someone", role), *allowed)
    assert info.value.status == 403
    assert info.value.details == {"role": role.value}


# --- JWKS (RS256), served from a loopback HTTP server ------------------------------------

class Jwks:
    def __init__(self, url: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey,
                 requests: list[str]) -> None:
        self.url = url
        self.rsa_key = rsa_key
        self.ec_key = ec_key
        self.requests = requests

    def settings(self, **values: str) -> Settings:
        return Settings(JWT_JWKS_URL=self.url, **values)


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    public.update(kid="rsa-1", use="sig", alg="RS256")
    document = json.dumps({"keys": [public]}).encode()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("NO_PROXY", "127.0.0.1,localhost")
            patch.setenv("no_proxy", "127.0.0.1,localhost")
            yield Jwks(f"http://127.0.0.1:{server.server_port}/keys", rsa_key, ec_key, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_jwks_rs256_token_is_accepted(jwks: Jwks) -> None:
    token = bearer(claims("entra-oid", role=None, roles=["Premium"]), jwks.rsa_key, "RS256",
                   headers={"kid": "rsa-1"})
    principal = authenticate(token, jwks.settings())
    assert principal == Principal("entra-oid", Role.PREMIUM)
    assert jwks.requests, "the JWKS document was never fetched"


def test_jwks_checks_issuer_and_audience(jwks: Jwks) -> None:
    configured = jwks.settings(JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE)
    good = bearer(claims(iss=ISSUER, aud=AUDIENCE), jwks.rsa_key, "RS256",
                  headers={"kid": "rsa-1"})
    assert authenticate(good, configured).user_id == "user-1"
    bad = bearer(claims(iss=ISSUER, aud="api://other"), jwks.rsa_key, "RS256",
                 headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        authenticate(bad, configured)


def test_jwks_mode_refuses_hs256_signed_with_the_public_key(jwks: Jwks) -> None:
    """Algorithm confusion: the public key used as an HMAC secret must not verify."""
    pem = jwks.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
    token = hand_made_token(header, claims(role="admin"), pem)
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {token}", jwks.settings())


def test_jwks_mode_refuses_tokens_signed_with_the_shared_secret(jwks: Jwks) -> None:
    token = bearer(claims(role="admin"), headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        authenticate(token, jwks.settings(JWT_SECRET=SECRET))


def test_jwks_mode_refuses_another_rsa_key(jwks: Jwks) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = bearer(claims(), stranger, "RS256", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        authenticate(token, jwks.settings())


@pytest.mark.parametrize("kid", ["unknown-kid", None])
def test_jwks_mode_refuses_a_key_id_it_does_not_publish(jwks: Jwks, kid: str | None) -> None:
    headers = {"kid": kid} if kid else None
    token = bearer(claims(), jwks.rsa_key, "RS256", headers=headers)
    with pytest.raises(Unauthorized):
        authenticate(token, jwks.settings())


def test_jwks_mode_refuses_alg_none(jwks: Jwks) -> None:
    token = jwt.encode(claims(role="admin"), None, algorithm="none", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        authenticate(f"Bearer {token}", jwks.settings())


def test_jwks_mode_refuses_an_algorithm_that_does_not_fit_the_key(jwks: Jwks) -> None:
    """An ES256 token naming the RSA key's kid is a bad token: 401, never a crash (500).

    Anyone can send such a token: it needs no secret at all.
    """
    token = bearer(claims(role="admin"), jwks.ec_key, "ES256", headers={"kid": "rsa-1"})
    with pytest.raises(Unauthorized):
        authenticate(token, jwks.settings())


def test_verified_tokens_are_remembered_only_until_they_expire(monkeypatch) -> None:
    from shared import auth

    cache = auth._VerifiedTokens(size=2)
    now = time.time()
    cache.put(("a",), {"exp": now + 60, "sub": "a"})
    assert cache.get(("a",))["sub"] == "a"
    monkeypatch.setattr(auth.time, "time", lambda: now + 61)
    assert cache.get(("a",)) is None  # expired: verified again (and refused) next time
    cache.put(("b",), {"exp": now + 600})
    cache.put(("c",), {"exp": now + 600})
    cache.put(("d",), {"exp": now + 600})
    assert cache.get(("b",)) is None and cache.get(("d",)) is not None  # bounded, LRU


def test_a_remembered_token_still_needs_the_same_settings() -> None:
    token = jwt.encode(claims(), "first-secret-first-secret-first-secret", algorithm="HS256")
    header = f"Bearer {token}"
    assert authenticate(header, Settings(JWT_SECRET="first-secret-first-secret-first-secret"))
    with pytest.raises(Unauthorized):
        authenticate(header, Settings(JWT_SECRET="other-secret-other-secret-other-secret"))
