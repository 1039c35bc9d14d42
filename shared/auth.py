"""Bearer-token authentication and the three roles of the specification.

Locally and in tests tokens are HS256-signed with ``JWT_SECRET``; in Azure they are
RS256/ES256 tokens checked against ``JWT_JWKS_URL``. ``alg: none`` is never accepted
because the accepted algorithms are fixed by configuration, not by the token.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt

from shared.errors import Forbidden, Unauthorized
from shared.settings import Settings, get_settings


class Role(StrEnum):
    USER = "user"
    PREMIUM = "premium"
    ADMIN = "admin"


# Highest privilege first: an Entra-style ``roles`` array grants the best role it names.
_ROLE_ORDER = (Role.ADMIN, Role.PREMIUM, Role.USER)
_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)


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


def _decode(token: str, settings: Settings) -> dict:
    options = {"require": ["exp", "sub"]}
    common: dict[str, Any] = {
        "audience": settings.jwt_audience or None,
        "issuer": settings.jwt_issuer or None,
        "options": options | {"verify_aud": bool(settings.jwt_audience)},
        "leeway": 30,
    }
    if settings.jwt_jwks_url:
        key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
        return jwt.decode(token, key, algorithms=_ASYMMETRIC, **common)
    if not settings.jwt_secret:
        raise Unauthorized("Authentication is not configured")
    return jwt.decode(token, settings.jwt_secret, algorithms=["HS256"], **common)


class _VerifiedTokens:
    """Claims of recently verified tokens: a player's range requests repeat one token, and
    verifying a signature is a large share of a small request. Entries end with the token."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[tuple, dict] = OrderedDict()

    def get(self, key: tuple) -> dict | None:
        claims = self._entries.get(key)
        if claims is None:
            return None
        if claims["exp"] <= time.time():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return claims

    def put(self, key: tuple, claims: dict) -> None:
        self._entries[key] = claims
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)


_verified = _VerifiedTokens()


def _claims(token: str, settings: Settings) -> dict:
    key = (token, settings.jwt_secret, settings.jwt_jwks_url, settings.jwt_issuer,
           settings.jwt_audience)
    claims = _verified.get(key)
    if claims is None:
        claims = _decode(token, settings)
        _verified.put(key, claims)
    return claims


def authenticate(authorization: str | None, settings: Settings | None = None) -> Principal:
    """Principal named by an ``Authorization: Bearer`` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("Missing Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    try:
        claims = _claims(token.strip(), settings or get_settings())
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired") from exc
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        # TypeError: a header whose alg does not fit the named key (ES256 naming an RSA key)
        raise Unauthorized("Invalid token") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        raise Unauthorized("Token subject is missing or invalid")
    return Principal(user_id=sub, role=_role_from_claims(claims))


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden("Your role may not perform this action",
                        details={"role": principal.role.value})
