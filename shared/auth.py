"""Bearer-token authentication and the three roles of the specification.

Locally and in tests tokens are HS256-signed with ``JWT_SECRET`` (settings refuse the
development secret, or one under 32 bytes, outside local development); in Azure they are
RS256/ES256 tokens checked against ``JWT_JWKS_URL``, and their issuer and audience are
required and checked: Entra signs every tenant's tokens with the same keys, so a signature
alone says nothing about who the token is for. ``alg: none`` is never accepted because the
accepted algorithms are fixed by configuration, not by the token.

``authenticate`` is a coroutine: the JWKS document may have to be fetched (off the loop).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt

from shared.errors import Unauthorized
from shared.jwks import KeySet
from shared.settings import Settings, get_settings


class Role(StrEnum):
    USER = "user"
    PREMIUM = "premium"
    ADMIN = "admin"


# Highest privilege first: an Entra-style ``roles`` array grants the best role it names.
_ROLE_ORDER = (Role.ADMIN, Role.PREMIUM, Role.USER)
_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# Entra's tokens are 1 to 3 KiB (more with group claims); nothing legitimate comes near this.
MAX_TOKEN_CHARS = 16 * 1024
MAX_KEY_ID_CHARS = 256


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@lru_cache(maxsize=4)
def _key_set(url: str) -> KeySet:
    return KeySet(url)


def _role_from_claims(claims: dict) -> Role:
    names: list[str] = []
    if isinstance(claims.get("role"), str):
        names.append(claims["role"])
    if isinstance(claims.get("roles"), list):
        names.extend(str(r) for r in claims["roles"])
    granted = {n.strip().lower() for n in names}
    for role in _ROLE_ORDER:
        if role.value in granted:
            return role
    raise Unauthorized("Token carries no known role", details={"roles": sorted(granted)})


def _options(settings: Settings) -> dict[str, Any]:
    required = ["exp", "sub"] + [name for name, value in (
        ("iss", settings.jwt_issuer), ("aud", settings.jwt_audience)) if value]
    return {
        "audience": settings.jwt_audience or None,
        "issuer": settings.jwt_issuer or None,
        "options": {"require": required, "verify_aud": bool(settings.jwt_audience)},
        "leeway": 30,
    }


async def _decode(token: str, settings: Settings) -> tuple[dict[str, Any], float]:
    """The verified claims and for how many seconds the verifying key stays trusted."""
    if settings.jwt_jwks_url:
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KEY_ID_CHARS:
            raise Unauthorized("Token names no signing key")
        key_set = _key_set(settings.jwt_jwks_url)
        key = await key_set.key(kid)
        claims = jwt.decode(token, key.key, algorithms=_ASYMMETRIC, **_options(settings))
        return claims, key_set.fresh_for
    if not settings.jwt_secret:
        raise Unauthorized("Authentication is not configured")
    claims = jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], **_options(settings))
    return claims, float("inf")


class _VerifiedTokens:
    """Claims of recently verified tokens: a player's range requests repeat one token, and
    verifying a signature is a large share of a small request. An entry ends with the token,
    or sooner when the key that verified it may have been withdrawn from the JWKS."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[tuple, tuple[dict, float]] = OrderedDict()

    def get(self, key: tuple) -> dict | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        claims, until = entry
        if until <= time.time():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return claims

    def put(self, key: tuple, claims: dict, trusted_for: float = float("inf")) -> None:
        until = min(float(claims["exp"]), time.time() + trusted_for)
        self._entries[key] = (claims, until)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


_verified = _VerifiedTokens()


async def _claims(token: str, settings: Settings) -> dict:
    key = (token, settings.jwt_secret, settings.jwt_jwks_url, settings.jwt_issuer,
           settings.jwt_audience)
    claims = _verified.get(key)
    if claims is None:
        claims, trusted_for = await _decode(token, settings)
        _verified.put(key, claims, trusted_for)
    return claims


async def authenticate(authorization: str | None, settings: Settings | None = None
                       ) -> Principal:
    """Principal named by an ``Authorization: Bearer`` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("Missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized("Token is too long", details={"max_chars": MAX_TOKEN_CHARS})
    try:
        claims = await _claims(token, settings or get_settings())
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        # TypeError: a header whose alg does not fit the named key (ES256 naming an RSA key)
        raise Unauthorized("Invalid token") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise Unauthorized("Token subject is missing or invalid")
    return Principal(user_id=sub, role=_role_from_claims(claims))
