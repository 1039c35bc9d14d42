"""The exportable MD5/SHA-256 state: resumed anywhere, it gives hashlib's digests."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from shared.crypto.hashstate import STATE_SIZE, FileHashes, HashStateError


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 1000, 200_003])
def test_any_split_resumed_gives_hashlib_digests(size: int) -> None:
    data = os.urandom(size)
    rng = random.Random(size)
    hashes = FileHashes()
    at = 0
    while at < size:
        step = rng.randint(1, 5000)
        hashes.update(data[at:at + step])
        hashes = FileHashes.resume(hashes.export())
        at += step
    md5_hex, sha_hex, md5_raw = hashes.digests()
    assert (md5_hex, sha_hex) == (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())
    assert md5_raw == hashlib.md5(data).digest() and hashes.length == size


def test_digests_leave_the_state_going() -> None:
    hashes = FileHashes()
    hashes.update(b"abc")
    hashes.digests()
    hashes.update(memoryview(b"def"))
    assert hashes.digests()[1] == hashlib.sha256(b"abcdef").hexdigest()


@pytest.mark.parametrize("state", [b"", b"\x02" + bytes(STATE_SIZE - 1), bytes(10)])
def test_foreign_states_are_refused(state: bytes) -> None:
    with pytest.raises(HashStateError):
        FileHashes.resume(state)


def test_a_state_whose_lengths_disagree_is_refused() -> None:
    one, other = FileHashes(), FileHashes()
    one.update(b"x" * 100)
    mixed = one.export()[:113] + other.export()[113:]
    with pytest.raises(HashStateError):
        FileHashes.resume(mixed)
