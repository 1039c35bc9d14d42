"""Wrapping of per-file data keys (DEKs) by a master key, and master-key rotation.

Each file's DEK is stored wrapped, next to the id of the key that wrapped it. Rotating the
master key means: make the new key active and move the old one to ``previous``. New files use
the new key; old files stay readable as long as the old key stays in ``previous`` (no job
re-wraps old DEKs yet, so a key is never retired).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from shared.crypto.frames import KEY_SIZE, IntegrityError, new_data_key
from shared.settings import Settings


class UnknownKeyError(LookupError):
    """No configured master key has this id (it was retired too early, or is misconfigured)."""


class KeyUnwrapError(IntegrityError):
    """A wrapped DEK does not unwrap under the key its id names: corrupted or wrong key."""


class EncryptionDisabledError(RuntimeError):
    """A DEK was to be wrapped, but no active master key is configured."""


@runtime_checkable
class KeyWrapper(Protocol):
    @property
    def key_id(self) -> str:
        """A stable, non-secret identifier stored with every DEK this wrapper wraps."""
        ...

    def wrap(self, dek: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class WrappedKey(NamedTuple):
    key_id: str
    wrapped: bytes


class LocalKeyWrapper:
    """AES key wrap (RFC 3394) under a 32-byte master key held by the app (``ENCRYPTION_KEY``)."""

    __slots__ = ("_key_id", "_master_key")

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_SIZE:
            raise ValueError("the master key must be 32 bytes")
        self._master_key = bytes(master_key)
        # A fingerprint, so the database says which key to use without revealing it.
        self._key_id = "local:" + hashlib.sha256(master_key).hexdigest()[:16]

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, dek: bytes) -> bytes:
        _check_dek(dek)
        return aes_key_wrap(self._master_key, dek)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            dek = aes_key_unwrap(self._master_key, wrapped)
        except (InvalidUnwrap, ValueError):
            raise KeyUnwrapError(f"the data key does not unwrap under {self._key_id}") from None
        _check_unwrapped(dek)
        return dek

    def __repr__(self) -> str:  # never show the key, even in tracebacks and logs
        return f"LocalKeyWrapper(key_id={self._key_id!r})"


class KeyVaultKeyWrapper:
    """RSA-OAEP-256 wrapping by an Azure Key Vault key; the master key never leaves the vault.

    ``key_id_url`` must name a key *version* (``https://<vault>/keys/<name>/<version>``): the
    id is stored with each DEK, and an unversioned URL would follow the vault's own rotation
    and stop unwrapping older DEKs. Calls are synchronous network requests (``remote``):
    ``KeyRing``'s async methods run them in a thread, off the event loop. Azure errors
    (network, permissions) propagate unchanged.
    Needs the ``azure-keyvault-keys`` package, imported only when this class is used.
    """

    def __init__(self, key_id_url: str, credential: Any) -> None:
        from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm

        self.remote = True
        _check_versioned_key_url(key_id_url)
        self._key_id = key_id_url
        self._algorithm = KeyWrapAlgorithm.rsa_oaep_256
        self._client = CryptographyClient(key_id_url, credential)

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, dek: bytes) -> bytes:
        _check_dek(dek)
        return bytes(self._client.wrap_key(self._algorithm, dek).encrypted_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        dek = bytes(self._client.unwrap_key(self._algorithm, wrapped).key)
        _check_unwrapped(dek)
        return dek

    def __repr__(self) -> str:
        return f"KeyVaultKeyWrapper(key_id={self._key_id!r})"


class KeyRing:
    """The active wrapper (for new DEKs) and the previous ones (to read older files)."""

    # Unwrapped data keys are kept briefly (a Key Vault unwrap is a network call): at most
    # CACHE_SIZE of them, each for CACHE_SECONDS after it was unwrapped.
    CACHE_SIZE = 1024
    CACHE_SECONDS = 300.0

    def __init__(self, active: KeyWrapper | None, previous: Sequence[KeyWrapper] = (),
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: OrderedDict[tuple[str, bytes], tuple[float, bytes]] = OrderedDict()
        self._clock = clock
        self._active = active
        self._by_id: dict[str, KeyWrapper] = {}
        for wrapper in [*previous, *([active] if active else [])]:
            self._by_id[wrapper.key_id] = wrapper  # the active one wins on a duplicate id

    @classmethod
    def from_settings(cls, encryption_key_b64: str, previous_keys_b64: Sequence[str]) -> KeyRing:
        """Build from ``ENCRYPTION_KEY`` / ``ENCRYPTION_PREVIOUS_KEYS`` (base64 of 32 bytes).

        An empty active key disables encryption of new files, but previous keys still unwrap
        the DEKs of files encrypted before: turning encryption off never strands data.
        """
        active = _local_from_b64(encryption_key_b64) if encryption_key_b64.strip() else None
        previous = [_local_from_b64(value) for value in previous_keys_b64 if value.strip()]
        return cls(active, previous)

    @property
    def enabled(self) -> bool:
        return self._active is not None

    @property
    def active_key_id(self) -> str | None:
        return self._active.key_id if self._active else None

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

    def wrap(self, dek: bytes) -> WrappedKey:
        if self._active is None:
            raise EncryptionDisabledError("no active encryption key is configured")
        return WrappedKey(self._active.key_id, self._active.wrap(dek))

    def new_data_key(self) -> tuple[bytes, WrappedKey]:
        """A fresh DEK for one new file, and its wrapped form to store."""
        dek = new_data_key()
        return dek, self.wrap(dek)

    def _wrapper(self, key_id: str) -> KeyWrapper:
        wrapper = self._by_id.get(key_id)
        if wrapper is None:
            raise UnknownKeyError(f"no configured key has id {key_id!r}")
        return wrapper

    def _cached(self, entry: tuple[str, bytes]) -> bytes | None:
        cached = self._cache.get(entry)
        if cached is None or cached[0] <= self._clock():
            return None
        self._cache.move_to_end(entry)
        return cached[1]

    def _remember(self, entry: tuple[str, bytes], dek: bytes) -> bytes:
        self._cache[entry] = (self._clock() + self.CACHE_SECONDS, dek)
        self._cache.move_to_end(entry)
        while len(self._cache) > self.CACHE_SIZE:
            self._cache.popitem(last=False)
        return dek

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        wrapper, entry = self._wrapper(key_id), (key_id, bytes(wrapped))
        cached = self._cached(entry)
        return cached if cached is not None else self._remember(entry, wrapper.unwrap(wrapped))

    async def unwrap_async(self, key_id: str, wrapped: bytes) -> bytes:
        """``unwrap`` for async code: a remote wrapper (Key Vault) is called in a thread."""
        wrapper, entry = self._wrapper(key_id), (key_id, bytes(wrapped))
        cached = self._cached(entry)
        if cached is not None:
            return cached
        return self._remember(entry, await _off_loop(wrapper, wrapper.unwrap, wrapped))

    async def new_data_key_async(self) -> tuple[bytes, WrappedKey]:
        """``new_data_key`` for async code: a remote wrapper is called in a thread."""
        if self._active is None:
            raise EncryptionDisabledError("no active encryption key is configured")
        dek = new_data_key()
        wrapped = await _off_loop(self._active, self._active.wrap, dek)
        return dek, WrappedKey(self._active.key_id, wrapped)

    def __repr__(self) -> str:
        return f"KeyRing(active={self.active_key_id!r}, keys={sorted(self._by_id)!r})"


def keyring_for(settings: Settings) -> KeyRing:
    """The ring the settings describe: a Key Vault key when one is named (in Azure), else
    ``ENCRYPTION_KEY``; previous keys of both kinds keep older files readable."""
    if not settings.encryption_key_vault_key:
        return KeyRing.from_settings(settings.encryption_key, settings.encryption_previous_keys)
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    previous: list[KeyWrapper] = [
        KeyVaultKeyWrapper(url, credential) for url in settings.encryption_previous_vault_keys
    ]
    # Files sealed under a local key before moving to Key Vault stay readable.
    previous += [_local_from_b64(key) for key in settings.encryption_previous_keys]
    return KeyRing(KeyVaultKeyWrapper(settings.encryption_key_vault_key, credential), previous)


async def _off_loop(wrapper: KeyWrapper, call: Callable[[bytes], bytes], data: bytes) -> bytes:
    """A network-bound wrapper's call in a thread; a local (AES) one inline: microseconds."""
    if getattr(wrapper, "remote", False):
        return await asyncio.to_thread(call, data)
    return call(data)


def _local_from_b64(value: str) -> LocalKeyWrapper:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("an encryption key is not valid base64") from None
    if len(key) != KEY_SIZE:
        raise ValueError("an encryption key must be the base64 of 32 bytes")
    return LocalKeyWrapper(key)


def _check_dek(dek: bytes) -> None:
    if len(dek) != KEY_SIZE:
        raise ValueError("a data key must be 32 bytes")


def _check_unwrapped(dek: bytes) -> None:
    if len(dek) != KEY_SIZE:
        raise KeyUnwrapError("the unwrapped data key has the wrong length")


def _check_versioned_key_url(url: str) -> None:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme != "https" or len(segments) != 3 or segments[0] != "keys":
        raise ValueError("expected https://<vault>/keys/<name>/<version>")
