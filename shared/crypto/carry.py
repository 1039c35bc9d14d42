"""The few bytes a resumable upload holds between requests (past its last staged block, at
most one frame or the store's smallest block), sealed when the file is encrypted.

They are kept in the database until the next request stages them, so they are sealed with
AES-256-GCM under a key derived from the file's data key (HKDF, its own label: the frame
nonces of the data key are never reused), a random nonce, and the upload's id and offset as
associated data, so a carry cannot be replayed into another upload or position.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.crypto.frames import NONCE_SIZE, IntegrityError

_LABEL = b"support-storage resumable carry v1"


def _key(dek: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL).derive(dek))


def seal(dek: bytes, plain: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)
    return nonce + _key(dek).encrypt(nonce, plain, context)


def open_sealed(dek: bytes, sealed: bytes, context: bytes) -> bytes:
    try:
        return _key(dek).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], context)
    except InvalidTag:
        raise IntegrityError("the held bytes of this upload failed authentication") from None
