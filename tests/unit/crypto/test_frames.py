import asyncio
import os
import random
import tracemalloc
from collections.abc import AsyncIterator, Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.crypto.frames import (
    FRAME_SIZE,
    TAG_SIZE,
    FrameDecryptor,
    FrameEncryptor,
    IntegrityError,
    aiter_decrypt,
    cipher_span,
    ciphertext_size,
    decrypt_span,
    encrypt,
    frame_count,
    iter_decrypt,
    new_data_key,
    whole_span,
)

SMALL = 16  # a tiny frame size so that every range of a small file can be checked


def random_chunks(data: bytes, rng: random.Random, max_chunk: int) -> Iterator[bytes]:
    offset = 0
    while offset < len(data):
        size = rng.randint(0, max_chunk)  # empty chunks included
        yield data[offset : offset + size]
        offset += size


def encrypt_chunked(dek: bytes, data: bytes, rng: random.Random, frame_size: int) -> bytes:
    encryptor = FrameEncryptor(dek, frame_size=frame_size)
    out = [encryptor.update(chunk) for chunk in random_chunks(data, rng, 3 * frame_size)]
    out.append(encryptor.finish())
    assert encryptor.plain_size == len(data)
    return b"".join(out)


def decrypt_all(dek: bytes, blob: bytes, plain_size: int, frame_size: int = SMALL) -> bytes:
    return decrypt_span(dek, whole_span(plain_size, frame_size=frame_size), blob, plain_size)


def test_sizes() -> None:
    assert frame_count(0) == 1 and ciphertext_size(0) == TAG_SIZE
    assert frame_count(1) == 1 and ciphertext_size(1) == 1 + TAG_SIZE
    assert frame_count(FRAME_SIZE) == 1
    assert frame_count(FRAME_SIZE + 1) == 2
    assert ciphertext_size(3 * FRAME_SIZE + 17) == 3 * FRAME_SIZE + 17 + 4 * TAG_SIZE
    assert ciphertext_size(100, SMALL) == 100 + 7 * TAG_SIZE
    with pytest.raises(ValueError):
        frame_count(-1)
    with pytest.raises(ValueError):
        frame_count(1, 0)


def test_new_data_keys_are_random() -> None:
    keys = {new_data_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(k) == 32 for k in keys)


@pytest.mark.parametrize(
    "size", [0, 1, FRAME_SIZE - 1, FRAME_SIZE, FRAME_SIZE + 1, 3 * FRAME_SIZE + 17]
)
def test_round_trip_default_frame_size(size: int) -> None:
    rng = random.Random(size)
    dek = new_data_key()
    data = os.urandom(size)
    blob = encrypt_chunked(dek, data, rng, FRAME_SIZE)
    assert len(blob) == ciphertext_size(size)
    assert encrypt(dek, data) == blob  # deterministic for a given key: chunking is irrelevant
    span = whole_span(size)
    assert span.cipher_length == len(blob)
    assert decrypt_span(dek, span, blob, size) == data
    chunks = random_chunks(blob, rng, 2 * FRAME_SIZE)
    assert b"".join(iter_decrypt(dek, span, chunks, size)) == data


def test_layout_matches_the_documented_format() -> None:
    """Another implementation must be able to read the blobs: check against raw AESGCM."""
    dek = new_data_key()
    data = os.urandom(2 * SMALL + 5)
    blob = encrypt(dek, data, frame_size=SMALL)
    stride = SMALL + TAG_SIZE
    frames = [blob[0:stride], blob[stride : 2 * stride], blob[2 * stride :]]
    aead = AESGCM(dek)
    for index, frame in enumerate(frames):
        nonce = index.to_bytes(12, "big")
        aad = index.to_bytes(8, "big") + bytes([index == 2])
        assert aead.decrypt(nonce, frame, aad) == data[index * SMALL : (index + 1) * SMALL]


def test_empty_file_is_one_authenticated_frame() -> None:
    dek = new_data_key()
    blob = encrypt(dek, b"")
    assert len(blob) == TAG_SIZE
    assert decrypt_all(dek, blob, 0, FRAME_SIZE) == b""
    with pytest.raises(IntegrityError):
        decrypt_all(dek, b"", 0, FRAME_SIZE)
    with pytest.raises(IntegrityError):
        decrypt_all(dek, bytes(TAG_SIZE), 0, FRAME_SIZE)


@pytest.mark.parametrize("size", [1, 15, 16, 17, 32, 53])
def test_every_range_decrypts_to_the_slice(size: int) -> None:
    dek = new_data_key()
    data = os.urandom(size)
    blob = encrypt(dek, data, frame_size=SMALL)
    for start in range(size):
        for end in range(start, size):
            span = cipher_span(start, end, size, frame_size=SMALL)
            assert span.length == end - start + 1
            piece = blob[span.cipher_start : span.cipher_end + 1]
            assert len(piece) == span.cipher_length
            assert decrypt_span(dek, span, piece, size) == data[start : end + 1]


def test_cipher_span_fields() -> None:
    span = cipher_span(20, 40, 53, frame_size=SMALL)
    stride = SMALL + TAG_SIZE
    assert (span.first_frame, span.frame_count, span.skip, span.length) == (1, 2, 4, 21)
    assert (span.cipher_start, span.cipher_end) == (stride, 3 * stride - 1)
    last = cipher_span(50, 52, 53, frame_size=SMALL)  # the short final frame
    assert (last.first_frame, last.frame_count) == (3, 1)
    assert last.cipher_end == ciphertext_size(53, SMALL) - 1
    assert last.cipher_length == 5 + TAG_SIZE


@pytest.mark.parametrize(("start", "end"), [(-1, 0), (5, 4), (0, 53), (53, 53)])
def test_cipher_span_rejects_bad_ranges(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        cipher_span(start, end, 53, frame_size=SMALL)


def test_span_must_belong_to_the_file() -> None:
    span = cipher_span(40, 52, 53, frame_size=SMALL)
    with pytest.raises(ValueError):
        FrameDecryptor(new_data_key(), span, 20)


# --- tampering -------------------------------------------------------------------------------

SIZE = 3 * SMALL + 5


@pytest.fixture
def sealed() -> tuple[bytes, bytes, bytes]:
    dek = new_data_key()
    data = os.urandom(SIZE)
    return dek, data, encrypt(dek, data, frame_size=SMALL)


def test_every_flipped_bit_is_detected(sealed: tuple[bytes, bytes, bytes]) -> None:
    dek, _, blob = sealed
    for position in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[position] ^= bit
            with pytest.raises(IntegrityError):
                decrypt_all(dek, bytes(tampered), SIZE)


def frames_of(blob: bytes) -> list[bytes]:
    stride = SMALL + TAG_SIZE
    return [blob[i : i + stride] for i in range(0, len(blob), stride)]


def test_swapped_and_duplicated_frames_are_detected(sealed: tuple[bytes, bytes, bytes]) -> None:
    dek, _, blob = sealed
    f = frames_of(blob)
    for reordered in ([f[1], f[0], f[2], f[3]], [f[0], f[0], f[2], f[3]], [f[0], f[2], f[1], f[3]]):
        with pytest.raises(IntegrityError):
            decrypt_all(dek, b"".join(reordered), SIZE)
    # A single frame moved to another position fails even in a ranged read.
    span = cipher_span(SMALL, SMALL, SIZE, frame_size=SMALL)
    with pytest.raises(IntegrityError):
        decrypt_span(dek, span, f[0], SIZE)


def test_truncation_is_detected(sealed: tuple[bytes, bytes, bytes]) -> None:
    dek, _, blob = sealed
    with pytest.raises(IntegrityError):
        decrypt_all(dek, blob[:-1], SIZE)
    with pytest.raises(IntegrityError):
        decrypt_all(dek, blob[: 3 * (SMALL + TAG_SIZE)], SIZE)  # last frame dropped
    # Dropping the last frame AND lying about the size: frame 2 was not sealed as final.
    with pytest.raises(IntegrityError):
        decrypt_all(dek, blob[: 3 * (SMALL + TAG_SIZE)], 3 * SMALL)


def test_extension_is_detected(sealed: tuple[bytes, bytes, bytes]) -> None:
    dek, data, blob = sealed
    with pytest.raises(IntegrityError):
        decrypt_all(dek, blob + b"\x00", SIZE)
    # Re-encrypting a longer file under the same key is exactly what the invariant forbids,
    # but even a frame sealed under the same key at a later index is refused by the size.
    longer = encrypt(dek, data + os.urandom(SMALL), frame_size=SMALL)
    with pytest.raises(IntegrityError):
        decrypt_all(dek, blob + frames_of(longer)[-1], SIZE)


def test_wrong_key_is_detected(sealed: tuple[bytes, bytes, bytes]) -> None:
    _, _, blob = sealed
    with pytest.raises(IntegrityError):
        decrypt_all(new_data_key(), blob, SIZE)
    span = cipher_span(0, 0, SIZE, frame_size=SMALL)
    with pytest.raises(IntegrityError):
        decrypt_span(new_data_key(), span, blob[: span.cipher_length], SIZE)


def test_stream_releases_only_authenticated_frames(sealed: tuple[bytes, bytes, bytes]) -> None:
    dek, data, blob = sealed
    tampered = bytearray(blob)
    tampered[2 * (SMALL + TAG_SIZE) + 3] ^= 1  # inside frame 2
    released = []
    with pytest.raises(IntegrityError):
        for piece in iter_decrypt(dek, whole_span(SIZE, frame_size=SMALL), [bytes(tampered)], SIZE):
            released.append(piece)
    assert b"".join(released) == data[: 2 * SMALL]


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        FrameEncryptor(b"k" * 16)
    with pytest.raises(ValueError):
        FrameDecryptor(b"k" * 16, whole_span(0), 0)


def test_encryptor_cannot_be_reused() -> None:
    encryptor = FrameEncryptor(new_data_key())
    with pytest.raises(RuntimeError):
        _ = encryptor.plain_size
    encryptor.finish()
    with pytest.raises(RuntimeError):
        encryptor.update(b"x")
    with pytest.raises(RuntimeError):
        encryptor.finish()


# --- streaming and memory --------------------------------------------------------------------


def test_encryptor_holds_back_at_most_one_frame() -> None:
    rng = random.Random(7)
    encryptor = FrameEncryptor(new_data_key(), frame_size=SMALL)
    consumed = emitted_frames = 0
    for chunk in random_chunks(os.urandom(5000), rng, 10 * SMALL):
        out = encryptor.update(chunk)
        consumed += len(chunk)
        assert len(out) % (SMALL + TAG_SIZE) == 0  # only whole, non-final frames
        emitted_frames += len(out) // (SMALL + TAG_SIZE)
        assert encryptor.buffered == consumed - emitted_frames * SMALL
        assert 1 <= encryptor.buffered <= SMALL  # never empty: the last frame is held back
    held = encryptor.buffered
    assert len(encryptor.finish()) == held + TAG_SIZE


def test_exact_multiple_holds_the_last_full_frame_until_finish() -> None:
    encryptor = FrameEncryptor(new_data_key(), frame_size=SMALL)
    assert encryptor.update(b"a" * SMALL) == b""  # might be the last frame
    assert len(encryptor.update(b"b")) == SMALL + TAG_SIZE  # now proven non-final
    assert len(encryptor.finish()) == 1 + TAG_SIZE


def test_streaming_memory_is_bounded() -> None:
    """Encrypt then decrypt 32 MiB in 1 MiB chunks; Python allocations stay a few MiB."""
    dek = new_data_key()
    size, chunk = 32 * 2**20, 2**20
    block = os.urandom(chunk)

    def plaintext() -> Iterator[bytes]:
        for _ in range(size // chunk):
            yield block

    def ciphertext() -> Iterator[bytes]:
        encryptor = FrameEncryptor(dek)
        for piece in plaintext():
            yield encryptor.update(piece)
            assert encryptor.buffered <= FRAME_SIZE
        yield encryptor.finish()

    tracemalloc.start()
    try:
        total = 0
        for piece in iter_decrypt(dek, whole_span(size), ciphertext(), size):
            assert len(piece) <= FRAME_SIZE
            assert piece == block[total % chunk : total % chunk + len(piece)]
            total += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 6 * 2**20, peak


def test_iter_decrypt_is_lazy() -> None:
    dek = new_data_key()
    data = os.urandom(10 * FRAME_SIZE)
    blob = encrypt(dek, data)
    pulled = []

    def source() -> Iterator[bytes]:
        for i in range(0, len(blob), 1000):
            pulled.append(i)
            yield blob[i : i + 1000]

    stream = iter_decrypt(dek, whole_span(len(data)), source(), len(data))
    first = next(stream)
    assert first == data[:FRAME_SIZE]
    assert len(pulled) * 1000 < 2 * (FRAME_SIZE + TAG_SIZE)


def test_one_huge_chunk_is_released_frame_by_frame() -> None:
    dek = new_data_key()
    data = os.urandom(8 * FRAME_SIZE)
    decryptor_pieces = iter_decrypt(dek, whole_span(len(data)), [encrypt(dek, data)], len(data))
    sizes = [len(p) for p in decryptor_pieces]
    assert sizes == [FRAME_SIZE] * 8


def test_aiter_decrypt_matches_sync() -> None:
    rng = random.Random(3)
    dek = new_data_key()
    data = os.urandom(3 * SMALL + 9)
    blob = encrypt(dek, data, frame_size=SMALL)

    async def source(payload: bytes) -> AsyncIterator[bytes]:
        for piece in random_chunks(payload, rng, 40):
            await asyncio.sleep(0)
            yield piece

    async def collect(start: int, end: int, payload: bytes) -> bytes:
        span = cipher_span(start, end, len(data), frame_size=SMALL)
        window = payload[span.cipher_start : span.cipher_end + 1]
        return b"".join([p async for p in aiter_decrypt(dek, span, source(window), len(data))])

    for start in range(len(data)):
        for end in range(start, len(data)):
            assert asyncio.run(collect(start, end, blob)) == data[start : end + 1]
    with pytest.raises(IntegrityError):
        asyncio.run(collect(0, len(data) - 1, blob[:-1] + bytes([blob[-1] ^ 1])))
