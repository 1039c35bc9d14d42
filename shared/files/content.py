"""A file's bytes at rest: encrypted on the way in when a key is configured, and read back
as plaintext (any byte range) on the way out.

Each file gets its own data key, wrapped by the active master key (``ENCRYPTION_KEY``
locally, a Key Vault key in Azure); the envelope (scheme, frame size, key id, wrapped
key) is stored on the file's row, never in the blob.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.crypto import frames
from shared.crypto.keys import (
    KeyRing,
    KeyUnwrapError,
    KeyVaultKeyWrapper,
    KeyWrapper,
    LocalKeyWrapper,
    UnknownKeyError,
)
from shared.errors import EncryptionKeyUnavailable, IntegrityFailure
from shared.settings import get_settings
from shared.storage import primary_store

SCHEME = "aes-256-gcm-frames-v1"


@lru_cache(maxsize=1)
def keyring() -> KeyRing:
    settings = get_settings()
    if settings.encryption_key_vault_key:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
        previous: list[KeyWrapper] = [
            KeyVaultKeyWrapper(url, credential) for url in settings.encryption_previous_vault_keys
        ]
        # Files sealed under a local key before moving to Key Vault stay readable.
        previous += [LocalKeyWrapper(base64.b64decode(key))
                     for key in settings.encryption_previous_keys]
        return KeyRing(KeyVaultKeyWrapper(settings.encryption_key_vault_key, credential),
                       previous)
    return KeyRing.from_settings(settings.encryption_key, settings.encryption_previous_keys)


@dataclass
class Sealer:
    """Encrypts one new file as it streams in."""

    encryptor: frames.FrameEncryptor
    envelope: dict[str, Any]

    @property
    def key_id(self) -> str:
        return self.envelope["key_id"]


def new_sealer() -> Sealer | None:
    """A sealer for a new file, or None when encryption at rest is off."""
    ring = keyring()
    if not ring.enabled:
        return None
    dek, wrapped = ring.new_data_key()
    envelope = {"scheme": SCHEME, "frame_size": frames.FRAME_SIZE, "key_id": wrapped.key_id,
                "wrapped_key": base64.b64encode(wrapped.wrapped).decode()}
    return Sealer(frames.FrameEncryptor(dek), envelope)


def _data_key(envelope: dict[str, Any]) -> bytes:
    if envelope.get("scheme") != SCHEME:
        raise EncryptionKeyUnavailable(details={"scheme": envelope.get("scheme")})
    try:
        return keyring().unwrap(envelope["key_id"], base64.b64decode(envelope["wrapped_key"]))
    except (UnknownKeyError, KeyUnwrapError) as exc:
        raise EncryptionKeyUnavailable(details={"key_id": envelope["key_id"]}) from exc


async def _checked(plain: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in plain:
            yield chunk
    except frames.IntegrityError as exc:
        raise IntegrityFailure() from exc


def read_plain(row: dict[str, Any], start: int, end: int) -> AsyncIterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive) of a stored file.

    Only what is needed is read from storage (the whole frames around the range when the
    file is encrypted). The data key is unwrapped here, before any byte is sent, so a
    missing key is an error response rather than a broken stream.
    """
    store, path, envelope = primary_store(), row["file_path"], row.get("encryption")
    if not envelope:
        return store.read(path, start, end - start + 1)
    dek = _data_key(envelope)
    size = row["size_bytes"]
    span = frames.cipher_span(start, end, size, frame_size=envelope["frame_size"])
    chunks = store.read(path, span.cipher_start, span.cipher_length)
    return _checked(frames.aiter_decrypt(dek, span, chunks, size))
