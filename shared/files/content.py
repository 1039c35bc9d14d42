"""A file's bytes at rest: encrypted on the way in when a key is configured, and read back
as plaintext (any byte range) on the way out.

Each file gets its own data key, wrapped by the active master key of the context's key ring
(``ENCRYPTION_KEY`` locally, a Key Vault key in Azure); the envelope (scheme, frame size, key
id, wrapped key) is stored on the file's row, never in the blob. Bytes are read from the store
that the row names (``storage_provider``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from shared.context import AppContext
from shared.crypto import frames
from shared.crypto.keys import KeyRing, KeyUnwrapError, UnknownKeyError
from shared.db import Row
from shared.errors import EncryptionKeyUnavailable, IntegrityFailure, ServiceUnavailable

SCHEME = "aes-256-gcm-frames-v1"
log = logging.getLogger(__name__)


@dataclass
class Sealer:
    """Encrypts one new file as it streams in."""

    encryptor: frames.FrameEncryptor
    envelope: dict[str, Any]

    @property
    def key_id(self) -> str:
        return str(self.envelope["key_id"])


async def new_envelope(ring: KeyRing, *, required: bool = False
                       ) -> tuple[bytes, dict[str, Any]] | None:
    """A new file's data key and its envelope (kept on the row), or None when encryption at
    rest is off. ``required`` (``ENCRYPTION_REQUIRED``) and no key: 503, nothing stored."""
    if not ring.enabled:
        if required:
            raise ServiceUnavailable(
                "Encryption at rest is required and no encryption key is configured",
                details={"reason": "encryption_required"})
        return None
    dek, wrapped = await ring.new_data_key_async()
    return dek, {"scheme": SCHEME, "frame_size": frames.FRAME_SIZE, "key_id": wrapped.key_id,
                 "wrapped_key": base64.b64encode(wrapped.wrapped).decode()}


async def new_sealer(ring: KeyRing, *, required: bool = False) -> Sealer | None:
    """A sealer for a new file, or None when encryption at rest is off."""
    made = await new_envelope(ring, required=required)
    return None if made is None else Sealer(frames.FrameEncryptor(made[0]), made[1])


async def data_key(ring: KeyRing, envelope: dict[str, Any]) -> bytes:
    """The plaintext data key of an envelope (``ENCRYPTION_KEY_UNAVAILABLE`` if it cannot be
    unwrapped)."""
    if envelope.get("scheme") != SCHEME:
        raise EncryptionKeyUnavailable(details={"scheme": envelope.get("scheme")})
    try:
        return await ring.unwrap_async(envelope["key_id"],
                                       base64.b64decode(envelope["wrapped_key"]))
    except (UnknownKeyError, KeyUnwrapError) as exc:  # the key's id is logged, never sent
        log.error("data key of an envelope under %s cannot be unwrapped: %s",
                  envelope["key_id"], exc)
        raise EncryptionKeyUnavailable() from exc


async def _checked(plain: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in plain:
            yield chunk
    except frames.IntegrityError as exc:
        raise IntegrityFailure() from exc


async def file_key(ctx: AppContext, row: Row) -> bytes | None:
    """The file's plaintext data key (None: not encrypted). A request that reads several
    ranges unwraps it once and passes it to each ``read_plain``."""
    envelope = row.get("encryption")
    return await data_key(ctx.keyring, envelope) if envelope else None


async def read_plain(ctx: AppContext, row: Row, start: int, end: int, *,
                     dek: bytes | None = None) -> AsyncIterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive) of a stored file.

    Only what is needed is read from storage (the whole frames around the range when the
    file is encrypted). The data key (``dek``, or unwrapped here) is known before any byte
    is sent, so a missing key is an error response rather than a broken stream.
    """
    store, path, envelope = ctx.stores.of(row), row["file_path"], row.get("encryption")
    if not envelope:
        return store.read(path, start, end - start + 1)
    dek = dek or await data_key(ctx.keyring, envelope)
    size = row["size_bytes"]
    span = frames.cipher_span(start, end, size, frame_size=envelope["frame_size"])
    chunks = store.read(path, span.cipher_start, span.cipher_length)
    return _checked(frames.aiter_decrypt(dek, span, chunks, size))
