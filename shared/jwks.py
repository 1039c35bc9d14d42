"""The signing keys published in a JWKS document (Entra ID's, in Azure).

The document is fetched in a worker thread, never on the event loop, and concurrent callers
share one fetch. Keys are trusted for at most ``max_age`` (5 minutes): a key removed from
the document stops verifying tokens within that time, not at the next restart. A token
naming a key id we do not hold makes us fetch the document again (keys rotate), but at most
once per ``refetch_interval`` (30 s), so tokens with random key ids cannot make the service
hammer the endpoint. When a fetch fails, the keys already held keep working up to
``stale_limit`` (1 hour, an identity provider's outage); past it, or before any fetch has
succeeded, authentication answers 503 rather than refusing valid users as unauthorized.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt

from shared.aio import SharedRun
from shared.errors import ServiceUnavailable, Unauthorized

log = logging.getLogger("shared.jwks")

FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 512 * 1024  # Entra's document is under 10 KiB


@dataclass
class KeySet:
    url: str
    max_age: float = 300.0
    refetch_interval: float = 30.0
    stale_limit: float = 3600.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict, init=False)
    _fetched_at: float = field(default=-math.inf, init=False)  # last successful fetch
    _attempted_at: float = field(default=-math.inf, init=False)  # last fetch that ended

    def __post_init__(self) -> None:
        self._refresh = SharedRun(self._fetch)

    @property
    def fresh_for(self) -> float:
        """Seconds the keys held stay trusted without a new fetch (may be negative)."""
        return self._fetched_at + self.max_age - self.clock()

    async def key(self, kid: str) -> jwt.PyJWK:
        """The published key ``kid``; Unauthorized when the document does not hold it."""
        if self.fresh_for <= 0 and self._may_fetch():
            await self._refresh()
        key = self._usable().get(kid)
        if key is None and self._may_fetch():
            await self._refresh()  # a rotation: the new key may be published by now
            key = self._usable().get(kid)
        if key is not None:
            return key
        if not self._usable():
            raise ServiceUnavailable("Token signing keys are unavailable")
        raise Unauthorized("Token signed by an unknown key")

    def _may_fetch(self) -> bool:
        return self.clock() - self._attempted_at >= self.refetch_interval

    def _usable(self) -> dict[str, jwt.PyJWK]:
        return self._keys if self.clock() - self._fetched_at < self.stale_limit else {}

    async def _fetch(self) -> None:
        try:
            document = await asyncio.to_thread(_download, self.url)
            keys = _signing_keys(document)
        except Exception as exc:  # the old keys stay until the stale limit
            log.warning("JWKS fetch from %s failed: %s: %s", self.url, type(exc).__name__, exc)
        else:
            self._keys, self._fetched_at = keys, self.clock()
        finally:
            self._attempted_at = self.clock()


def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
        body: bytes = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"JWKS document over {MAX_DOCUMENT_BYTES} bytes")
    return body


def _signing_keys(document: bytes) -> dict[str, jwt.PyJWK]:
    """Keys by id; keys without an id or meant for encryption are left out."""
    keys = jwt.PyJWKSet.from_json(document.decode("utf-8")).keys
    return {key.key_id: key for key in keys
            if key.key_id and key.public_key_use in (None, "sig")}
