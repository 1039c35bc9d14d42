"""extract_metadata gives the spec's metadata shape for each kind and never raises."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.media.limits import MediaLimits
from shared.media.metadata import extract_metadata


@pytest.mark.parametrize(("mime", "content"), [
    ("image/jpeg", b"\xff\xd8\xff\xe0 not a jpeg"),
    ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100),
    ("application/pdf", b"%PDF-1.7\ngarbage"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     b"PK\x03\x04garbage"),
    ("application/rtf", b"{\\rtf1 unterminated"),
    ("text/plain", b""),
])
def test_a_damaged_file_is_reported_not_raised(tmp_path: Path, mime: str,
                                               content: bytes) -> None:
    path = tmp_path / "damaged"
    path.write_bytes(content)
    metadata = extract_metadata(path, mime, MediaLimits())
    assert metadata["extraction"]["status"] in {"failed", "done"}
    if mime not in {"application/rtf", "text/plain"}:
        failed = metadata["extraction"]
        assert failed["status"] == "failed"
        assert failed["error_code"] == "TRANSFORMATION_FAILED" and failed["error_message"]


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    metadata = extract_metadata(tmp_path / "gone.pdf", "application/pdf", MediaLimits())
    assert metadata["extraction"]["status"] == "failed"


def test_other_types_have_nothing_to_extract(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    assert extract_metadata(path, "application/zip", MediaLimits()) == {
        "extraction": {"status": "done"}}
