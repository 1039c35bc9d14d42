"""PostgreSQL with Entra ID authentication: the password is an access token.

Azure Database for PostgreSQL Flexible Server with Entra auth only (infra/bicep) takes, as the
password of the role named like the app's managed identity, an access token for
``https://ossrdbms-aad.database.windows.net/.default``. Tokens live about an hour (24 h for
managed identities) and the server checks one only when a connection opens, so each new
connection asks for the password: the token is reused until ``REFRESH_MARGIN`` before it
expires, then a new one is fetched. Connections already open are not affected.

``DATABASE_ENTRA_AUTH=true`` turns it on (main.bicep sets it); the managed identity is
``AZURE_CLIENT_ID``'s (DefaultAzureCredential: locally, the developer's `az login`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Protocol

from azure.core.credentials import AccessToken

from shared.errors import ServiceUnavailable

SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
REFRESH_MARGIN = 300.0  # seconds before expiry when a new token is fetched


class TokenCredential(Protocol):
    """What azure-identity's (synchronous) credentials offer."""

    def get_token(self, *scopes: str) -> AccessToken: ...


class EntraPassword:
    """An async callable giving the current token, fetched in a thread (azure-identity's
    synchronous credentials are not bound to an event loop, unlike the pools)."""

    def __init__(self, credential: TokenCredential,
                 clock: Callable[[], float] = time.time) -> None:
        self._credential = credential
        self._clock = clock
        self._token: AccessToken | None = None
        self._lock = threading.Lock()  # one fetch at a time, whichever loop asks

    def _current(self) -> str:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_on - REFRESH_MARGIN:
                try:
                    token = self._credential.get_token(SCOPE)
                except Exception as exc:  # azure-identity raises several kinds
                    # The message names the credential's failure, never a secret.
                    raise ServiceUnavailable(
                        f"no Entra token for PostgreSQL: {type(exc).__name__}") from exc
                self._token = token
            return token.token

    async def __call__(self) -> str:
        return await asyncio.to_thread(self._current)


def managed_identity_password(client_id: str) -> EntraPassword:
    """Tokens of the user-assigned identity ``client_id`` (DefaultAzureCredential, so that a
    developer's Azure CLI login works too)."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=client_id or None)
    return EntraPassword(credential)
