"""Framed AES-256-GCM, so that any byte range of an encrypted file can be served.

Layout of the stored blob (no header: the caller keeps the plaintext size, frame size and the
wrapped data key in the database)::

    frame 0 | frame 1 | ... | frame n-1         frame i = AESGCM(dek).encrypt(nonce_i, p_i, aad_i)

* Every plaintext frame holds ``frame_size`` bytes except the last, which holds 0..frame_size
  (it is empty only for an empty file, which is thus still one authenticated frame).
  Ciphertext frame ``i`` starts at ``i * (frame_size + TAG_SIZE)``.
* ``nonce_i`` is the frame index as 12 big-endian bytes. Deterministic nonces are safe only
  because of this INVARIANT: **a data key (DEK) encrypts exactly one plaintext, once**. Never
  reuse a DEK for another file, a new version or a rewrite of the same file: draw a new one
  with ``new_data_key()``.
* ``aad_i`` is the frame index (8 big-endian bytes) plus a ``final`` byte (1 for the last
  frame). The index defeats reordering and duplication; the final flag defeats truncation at a
  frame boundary and extension.

No plaintext byte is released before its frame's tag has been verified. A stream can still
fail part-way (a later frame was tampered with): callers must then abort the response.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FRAME_SIZE = 64 * 1024
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_SIZE = 12


class IntegrityError(Exception):
    """The ciphertext is not what was encrypted with this key (tampered, truncated, wrong key)."""


def new_data_key() -> bytes:
    """A fresh 256-bit data key, for one file only."""
    return os.urandom(KEY_SIZE)


def frame_count(plain_size: int, frame_size: int = FRAME_SIZE) -> int:
    _check_sizes(plain_size, frame_size)
    return max(1, -(-plain_size // frame_size))


def ciphertext_size(plain_size: int, frame_size: int = FRAME_SIZE) -> int:
    return plain_size + frame_count(plain_size, frame_size) * TAG_SIZE


def _check_sizes(plain_size: int, frame_size: int) -> None:
    if plain_size < 0:
        raise ValueError("plain_size must be >= 0")
    if frame_size < 1:
        raise ValueError("frame_size must be >= 1")


def _aead(dek: bytes) -> AESGCM:
    if len(dek) != KEY_SIZE:
        raise ValueError("the data key must be 32 bytes (AES-256)")
    return AESGCM(dek)


def _nonce(index: int) -> bytes:
    return index.to_bytes(NONCE_SIZE, "big")


def _aad(index: int, final: bool) -> bytes:
    return index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


# --- encryption ------------------------------------------------------------------------------


class FrameEncryptor:
    """Streaming encryptor for input of unknown length.

    The last frame must carry the final flag, so one frame is held back until more input
    proves it is not the last one; ``finish()`` seals it. The internal buffer never holds more
    than one frame, whatever the size of the chunks given to ``update()``.

    A file received in segments (resumable uploads, out of order) is sealed segment by
    segment: each segment starts on a frame boundary, its encryptor starts at that frame's
    index (``first_index``), and ``end_segment()`` seals the held frame as not final. Only the
    segment that ends the file calls ``finish()``.
    """

    def __init__(self, dek: bytes, *, frame_size: int = FRAME_SIZE, first_index: int = 0
                 ) -> None:
        _check_sizes(0, frame_size)
        if first_index < 0:
            raise ValueError("first_index must be >= 0")
        self._aead = _aead(dek)
        self._frame_size = frame_size
        self._buffer = bytearray()
        self._index = first_index
        self._consumed = 0
        self._finished = False

    @property
    def buffered(self) -> int:
        """Plaintext bytes held back (at most one frame)."""
        return len(self._buffer)

    @property
    def plain_size(self) -> int:
        """Total plaintext size; known once ``finish()`` has been called."""
        if not self._finished:
            raise RuntimeError("plain_size is only known after finish()")
        return self._consumed

    def update(self, data: bytes) -> bytes:
        """Consume ``data``; return the frames proven non-final so far (possibly b"")."""
        self._check_open()
        sealed = []
        view = memoryview(data)
        while view:
            if len(self._buffer) == self._frame_size:
                # More input exists, so the held-back frame is not the last one.
                sealed.append(self._seal(final=False))
            take = self._frame_size - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
        self._consumed += len(data)
        return b"".join(sealed)

    def finish(self) -> bytes:
        """Seal and return the final frame (an empty file gives one 16-byte frame)."""
        self._check_open()
        final = self._seal(final=True)
        self._finished = True
        return final

    def end_segment(self) -> bytes:
        """Seal the held frame as not final: the segment ends on a frame boundary and more
        of the file follows (in another segment). The encryptor is then finished."""
        self._check_open()
        if len(self._buffer) not in (0, self._frame_size):
            raise ValueError("a segment that does not end the file must end on a frame boundary")
        sealed = self._seal(final=False) if self._buffer else b""
        self._finished = True
        return sealed

    def _seal(self, *, final: bool) -> bytes:
        frame = self._aead.encrypt(
            _nonce(self._index), bytes(self._buffer), _aad(self._index, final)
        )
        self._buffer.clear()
        self._index += 1
        return frame

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("the encryptor is finished; use a new one (and a new key)")


def encrypt(dek: bytes, plaintext: bytes, *, frame_size: int = FRAME_SIZE) -> bytes:
    """Encrypt a whole plaintext held in memory."""
    encryptor = FrameEncryptor(dek, frame_size=frame_size)
    return encryptor.update(plaintext) + encryptor.finish()


# --- ranges ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CipherSpan:
    """What to read and keep to serve a plaintext range.

    Read ciphertext bytes ``cipher_start..cipher_end`` (inclusive, whole frames starting at
    frame ``first_frame``), decrypt them, drop ``skip`` leading plaintext bytes and keep
    ``length`` bytes.
    """

    first_frame: int
    frame_count: int
    cipher_start: int
    cipher_end: int
    skip: int
    length: int
    frame_size: int

    @property
    def cipher_length(self) -> int:
        return self.cipher_end - self.cipher_start + 1


def cipher_span(
    start: int, end: int, plain_size: int, *, frame_size: int = FRAME_SIZE
) -> CipherSpan:
    """The ciphertext span for the inclusive plaintext range ``start..end``."""
    _check_sizes(plain_size, frame_size)
    if not 0 <= start <= end < plain_size:
        raise ValueError(f"range {start}-{end} is outside a {plain_size}-byte plaintext")
    return _span(
        start // frame_size, end // frame_size, start, end - start + 1, plain_size, frame_size
    )


def whole_span(plain_size: int, *, frame_size: int = FRAME_SIZE) -> CipherSpan:
    """The span of the whole file, including the single empty frame of an empty file."""
    last = frame_count(plain_size, frame_size) - 1
    return _span(0, last, 0, plain_size, plain_size, frame_size)


def _span(
    first: int, last: int, start: int, length: int, plain_size: int, frame_size: int
) -> CipherSpan:
    stride = frame_size + TAG_SIZE
    last_cipher_len = _frame_plain_len(last, plain_size, frame_size) + TAG_SIZE
    return CipherSpan(
        first_frame=first,
        frame_count=last - first + 1,
        cipher_start=first * stride,
        cipher_end=last * stride + last_cipher_len - 1,
        skip=start - first * frame_size,
        length=length,
        frame_size=frame_size,
    )


def _frame_plain_len(index: int, plain_size: int, frame_size: int) -> int:
    return min(frame_size, plain_size - index * frame_size)


# --- decryption ------------------------------------------------------------------------------


class FrameDecryptor:
    """Incremental decryptor of one span: feed ciphertext in any chunking, get plaintext.

    Holds at most one ciphertext frame. ``close()`` must be called at the end of the input:
    it is what detects a truncated stream.
    """

    def __init__(self, dek: bytes, span: CipherSpan, plain_size: int) -> None:
        total = frame_count(plain_size, span.frame_size)
        end_frame = span.first_frame + span.frame_count
        if span.first_frame < 0 or span.frame_count < 1 or end_frame > total:
            raise ValueError("the span does not belong to a file of this size")
        self._aead = _aead(dek)
        self._span = span
        self._plain_size = plain_size
        self._last_index = total - 1
        self._index = span.first_frame
        self._end_frame = end_frame
        self._buffer = bytearray()
        self._skip = span.skip
        self._remaining = span.length

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def max_feed(self) -> int:
        """Feeding at most this much at a time yields at most one frame per call."""
        return self._span.frame_size + TAG_SIZE

    def feed(self, data: bytes | memoryview) -> list[bytes]:
        """Consume ciphertext; return the plaintext of every frame it completed."""
        out = []
        view = memoryview(data)
        while view:
            if self._index >= self._end_frame:
                raise IntegrityError("more ciphertext than the span holds")
            take = self._cipher_len(self._index) - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]
            if len(self._buffer) == self._cipher_len(self._index):
                piece = self._open()
                if piece:
                    out.append(piece)
        return out

    def close(self) -> None:
        if self._index < self._end_frame or self._buffer:
            raise IntegrityError("the ciphertext is truncated")

    def _cipher_len(self, index: int) -> int:
        return _frame_plain_len(index, self._plain_size, self._span.frame_size) + TAG_SIZE

    def _open(self) -> bytes:
        index = self._index
        try:
            plain = self._aead.decrypt(
                _nonce(index), bytes(self._buffer), _aad(index, index == self._last_index)
            )
        except InvalidTag:
            raise IntegrityError(f"frame {index} failed authentication") from None
        self._buffer.clear()
        self._index += 1
        piece = plain[self._skip : self._skip + self._remaining]
        self._skip = 0
        self._remaining -= len(piece)
        return piece


def decrypt_span(dek: bytes, span: CipherSpan, ciphertext: bytes, plain_size: int) -> bytes:
    """Decrypt the ciphertext bytes of ``span`` (exactly ``span.cipher_length`` of them)."""
    return b"".join(iter_decrypt(dek, span, (ciphertext,), plain_size))


def iter_decrypt(
    dek: bytes, span: CipherSpan, chunks: Iterable[bytes], plain_size: int
) -> Iterator[bytes]:
    """Decrypt a stream of ciphertext chunks lazily, yielding frame-sized plaintext pieces."""
    decryptor = FrameDecryptor(dek, span, plain_size)
    for chunk in chunks:
        yield from _feed_bounded(decryptor, chunk)
    decryptor.close()


async def aiter_decrypt(
    dek: bytes, span: CipherSpan, chunks: AsyncIterable[bytes], plain_size: int
) -> AsyncIterator[bytes]:
    """``iter_decrypt`` for an async source such as an Azure blob download stream."""
    decryptor = FrameDecryptor(dek, span, plain_size)
    async for chunk in chunks:
        for piece in _feed_bounded(decryptor, chunk):
            yield piece
    decryptor.close()


def _feed_bounded(decryptor: FrameDecryptor, chunk: bytes) -> Iterator[bytes]:
    # A large chunk is fed a frame at a time so that plaintext leaves as soon as it is ready
    # instead of accumulating for the whole chunk.
    view = memoryview(chunk)
    step = decryptor.max_feed
    for offset in range(0, len(view), step):
        yield from decryptor.feed(view[offset : offset + step])
