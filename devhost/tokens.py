"""Development JWTs, HS256-signed with the app's ``JWT_SECRET`` (never used in Azure)."""

from __future__ import annotations

import time
from typing import Any

import jwt


def mint_token(sub: str, role: str, secret: str, ttl: int = 3600, **extra_claims: Any) -> str:
    """A token with ``sub``, ``role``, ``iat``, ``exp``; extra claims (``iss``, ``aud``, ...)
    are added as given, and may override the defaults (e.g. an ``exp`` in the past)."""
    if not secret:
        raise ValueError("JWT_SECRET is empty: cannot sign a development token")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "role": role, "iat": now, "exp": now + ttl}
    claims.update(extra_claims)
    return jwt.encode(claims, secret, algorithm="HS256")
