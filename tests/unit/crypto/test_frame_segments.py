"""A file sealed segment by segment (each from its own first frame index, only the last one
final) is the same ciphertext as the file sealed in one pass, in any order of sealing."""

from __future__ import annotations

import os
import random

import pytest

from shared.crypto.frames import FrameEncryptor, encrypt, new_data_key

FRAME = 1024  # small frames keep the test fast; the logic is the same


@pytest.mark.parametrize("segment_frames", [1, 3])
def test_segments_sealed_out_of_order_equal_one_pass(segment_frames: int) -> None:
    dek, data = new_data_key(), os.urandom(10 * FRAME + 123)
    size = segment_frames * FRAME
    starts = list(range(0, len(data), size))
    sealed: dict[int, bytes] = {}
    for start in random.Random(1).sample(starts, len(starts)):
        encryptor = FrameEncryptor(dek, frame_size=FRAME, first_index=start // FRAME)
        body = encryptor.update(data[start:start + size])
        last = start + size >= len(data)
        sealed[start] = body + (encryptor.finish() if last else encryptor.end_segment())
    assert b"".join(sealed[s] for s in starts) == encrypt(dek, data, frame_size=FRAME)


def test_a_segment_must_end_on_a_frame_boundary() -> None:
    encryptor = FrameEncryptor(new_data_key(), frame_size=FRAME)
    encryptor.update(b"x" * (FRAME + 1))
    with pytest.raises(ValueError):
        encryptor.end_segment()
