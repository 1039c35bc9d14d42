"""The streaming multipart reader: the same parts whatever the chunking of the body."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest

from shared.errors import BadRequest
from shared.files.multipart import (
    Event,
    MultipartReader,
    PartData,
    PartEnd,
    PartStart,
    boundary_of,
)

BOUNDARY = "----formdata-unit-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
DELIMITER = f"--{BOUNDARY}".encode()

# File bytes that look like the framing: CRLFs, dashes, a boundary prefix, every byte value.
FILE_BYTES = (
    b"%PDF-1.7\r\n--\r\n" + DELIMITER[:-3] + b"\r\n" + b"\r\n--" + bytes(range(256))
    + b"\r\n" + DELIMITER + b"X not a boundary\r\n" + b"-" * 40 + b"\r"
)
METADATA = json.dumps({"tags": ["a", "b"], "description": "Rapport 2024"}).encode()


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)
    ended: bool = False


def build_body(parts: list[tuple[bytes, bytes]], *, boundary: str = BOUNDARY) -> bytes:
    """Parts as (raw header block, body bytes); the framing of RFC 7578 by hand."""
    delimiter = f"--{boundary}".encode()
    body = b""
    for headers, data in parts:
        body += delimiter + b"\r\n" + headers + b"\r\n\r\n" + data + b"\r\n"
    return body + delimiter + b"--\r\n"


FILE_HEADERS = (b'Content-Disposition: form-data; name="file"; '
                b'filename="quarterly \\"final\\" report.pdf"\r\n'
                b"Content-Type: application/pdf")
METADATA_HEADERS = (b'Content-Disposition: form-data; name="metadata"\r\n'
                    b"Content-Type: application/json")
BODY = build_body([(FILE_HEADERS, FILE_BYTES), (METADATA_HEADERS, METADATA)])


def collect(events: list[Event], parts: list[Part]) -> None:
    for event in events:
        if isinstance(event, PartStart):
            assert not parts or parts[-1].ended, "a part started inside another"
            parts.append(Part(event.name, event.filename, event.content_type))
        elif isinstance(event, PartData):
            assert parts and not parts[-1].ended, "data outside a part"
            parts[-1].data += event.data
        else:
            assert isinstance(event, PartEnd)
            assert parts and not parts[-1].ended, "a part ended twice"
            parts[-1].ended = True


def read_in_chunks(body: bytes, sizes: list[int]) -> tuple[list[Part], MultipartReader]:
    reader = MultipartReader(CONTENT_TYPE)
    parts: list[Part] = []
    position = 0
    for size in sizes:
        collect(reader.feed(body[position:position + size]), parts)
        position += size
    collect(reader.feed(body[position:]), parts)
    return parts, reader


def check_parts(parts: list[Part]) -> None:
    assert [(p.name, p.filename, p.content_type, p.ended) for p in parts] == [
        ("file", 'quarterly "final" report.pdf', "application/pdf", True),
        ("metadata", None, "application/json", True),
    ]
    assert bytes(parts[0].data) == FILE_BYTES
    assert bytes(parts[1].data) == METADATA


# --- reassembly whatever the chunking -----------------------------------------------------

def test_one_chunk() -> None:
    parts, reader = read_in_chunks(BODY, [])
    check_parts(parts)
    assert reader.finished


def test_byte_by_byte() -> None:
    parts, reader = read_in_chunks(BODY, [1] * len(BODY))
    check_parts(parts)
    assert reader.finished


def test_every_split_into_two_chunks() -> None:
    for position in range(len(BODY) + 1):
        parts, reader = read_in_chunks(BODY, [position])
        check_parts(parts)
        assert reader.finished, position


@pytest.mark.parametrize("seed", range(40))
def test_random_chunk_sizes(seed: int) -> None:
    rng = random.Random(seed)
    sizes: list[int] = []
    while sum(sizes) < len(BODY):
        sizes.append(rng.choice([0, 1, 2, 3, rng.randint(1, 64), rng.randint(1, 700)]))
    parts, reader = read_in_chunks(BODY, sizes)
    check_parts(parts)
    assert reader.finished


def test_file_bytes_arrive_while_the_part_is_still_open() -> None:
    """The reader streams: it does not hold a part back until its end."""
    payload = bytes(range(256)) * 4096  # 1 MiB
    body = build_body([(FILE_HEADERS, payload)])
    reader = MultipartReader(CONTENT_TYPE)
    parts: list[Part] = []
    half = len(body) // 2
    collect(reader.feed(body[:half]), parts)
    assert parts and not parts[0].ended
    assert len(parts[0].data) >= half - len(FILE_HEADERS) - 2 * len(DELIMITER) - 16
    collect(reader.feed(body[half:]), parts)
    assert bytes(parts[0].data) == payload and parts[0].ended


def test_empty_file_part_and_empty_metadata() -> None:
    body = build_body([(FILE_HEADERS, b""), (METADATA_HEADERS, b"")])
    parts, reader = read_in_chunks(body, [])
    assert [(p.name, bytes(p.data), p.ended) for p in parts] == [
        ("file", b"", True), ("metadata", b"", True),
    ]
    assert reader.finished


def test_part_without_filename_or_content_type() -> None:
    body = build_body([(b'Content-Disposition: form-data; name="metadata"', b"{}")])
    parts, _ = read_in_chunks(body, [])
    assert [(p.name, p.filename, p.content_type) for p in parts] == [("metadata", None, None)]


def test_header_names_are_case_insensitive() -> None:
    headers = (b'content-disposition: form-data; name="file"; filename="a.txt"\r\n'
               b"CONTENT-TYPE: text/plain")
    parts, _ = read_in_chunks(build_body([(headers, b"hello")]), [])
    assert [(p.name, p.filename, p.content_type) for p in parts] == [
        ("file", "a.txt", "text/plain"),
    ]


def test_empty_filename_is_kept_apart_from_no_filename() -> None:
    headers = b'Content-Disposition: form-data; name="file"; filename=""'
    parts, _ = read_in_chunks(build_body([(headers, b"x")]), [])
    assert parts[0].filename == ""


def test_windows_path_in_filename_keeps_the_last_segment() -> None:
    headers = b'Content-Disposition: form-data; name="file"; filename="C:\\\\Users\\\\me\\\\a.txt"'
    parts, _ = read_in_chunks(build_body([(headers, b"x")]), [])
    assert parts[0].filename is not None
    assert "\\" not in parts[0].filename
    assert parts[0].filename.endswith("a.txt")


@pytest.mark.parametrize(
    "filename",
    ["résumé.pdf", "Grüße 2024.txt", "日本語の資料.pdf", "emoji 🚀.png", "naïve \"quoted\".txt"],
)
def test_utf8_filename_is_read_as_sent(filename: str) -> None:
    """Browsers, httpx and urllib3 send the filename as raw UTF-8 bytes (WHATWG form
    encoding: '"' becomes %22); the reader must hand back the same text, not '�' and not a
    UnicodeEncodeError (which would escape as a 500)."""
    sent = filename.replace('"', "%22")
    headers = (b'Content-Disposition: form-data; name="file"; filename="'
               + sent.encode("utf-8") + b'"\r\nContent-Type: text/plain')
    parts, _ = read_in_chunks(build_body([(headers, b"hello")]), [])
    assert [(p.name, p.filename) for p in parts] == [("file", sent)]


# --- finished -----------------------------------------------------------------------------

def test_finished_only_after_the_closing_boundary() -> None:
    closing = BODY.rindex(DELIMITER + b"--") + len(DELIMITER) + 2
    reader = MultipartReader(CONTENT_TYPE)
    for position in range(len(BODY)):
        reader.feed(BODY[position:position + 1])
        if position + 1 < closing:
            assert not reader.finished, position
    assert reader.finished


def test_body_cut_short_is_not_finished() -> None:
    reader = MultipartReader(CONTENT_TYPE)
    parts: list[Part] = []
    collect(reader.feed(BODY[: len(BODY) // 2]), parts)
    assert not reader.finished
    assert parts and not parts[-1].ended


def test_missing_closing_boundary_is_not_finished() -> None:
    body = BODY[: BODY.rindex(DELIMITER + b"--")]
    reader = MultipartReader(CONTENT_TYPE)
    reader.feed(body)
    assert not reader.finished


def test_no_body_is_not_finished() -> None:
    reader = MultipartReader(CONTENT_TYPE)
    assert reader.feed(b"") == []
    assert not reader.finished


# --- refusals -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (CONTENT_TYPE, BOUNDARY.encode()),
        ('multipart/form-data; boundary="quoted boundary"', b"quoted boundary"),
        ("Multipart/Form-Data;boundary=abc", b"abc"),
        ("multipart/form-data; charset=utf-8; boundary=xyz", b"xyz"),
    ],
)
def test_boundary_of(content_type: str, expected: bytes) -> None:
    assert boundary_of(content_type) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        None, "", "text/plain", "application/json; boundary=abc",
        "application/x-www-form-urlencoded", "multipart/mixed; boundary=abc",
        "multipart/form-data", "multipart/form-data; boundary=",
        "multipart/form-data; charset=utf-8",
    ],
)
def test_boundary_of_refusals(content_type: str | None) -> None:
    with pytest.raises(BadRequest) as info:
        boundary_of(content_type)
    assert info.value.status == 400
    assert info.value.details == {"content_type": content_type or ""}


def test_reader_refuses_a_content_type_without_boundary() -> None:
    with pytest.raises(BadRequest):
        MultipartReader("multipart/form-data")


@pytest.mark.parametrize(
    "body",
    [
        b"this is not a multipart body at all",
        build_body([(FILE_HEADERS, b"x")], boundary="another-boundary"),
        DELIMITER + b"\r\nHeader line without a colon\r\n\r\nx\r\n" + DELIMITER + b"--\r\n",
        DELIMITER + b"\r\n" + b"".join(b"X-Header-%d: v\r\n" % i for i in range(20))
        + b'Content-Disposition: form-data; name="file"\r\n\r\nx\r\n' + DELIMITER + b"--\r\n",
        BODY.replace(b"\r\n", b"\n"),
    ],
    ids=["not-multipart", "wrong-boundary", "bad-header", "too-many-headers", "bare-lf"],
)
def test_malformed_body_is_a_bad_request(body: bytes) -> None:
    reader = MultipartReader(CONTENT_TYPE)
    with pytest.raises(BadRequest) as info:
        for position in range(0, len(body), 7):
            reader.feed(body[position:position + 7])
    assert info.value.status == 400
    assert info.value.details.get("reason")
    assert not reader.finished


def test_a_boundary_past_256_characters_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="boundary is too long"):
        MultipartReader("multipart/form-data; boundary=" + "b" * 257)
    MultipartReader("multipart/form-data; boundary=" + "b" * 256)


def test_a_parts_headers_are_bounded() -> None:
    """python-multipart bounds a header's size (and the reader, their number)."""
    reader = MultipartReader(CONTENT_TYPE)
    with pytest.raises(BadRequest, match="Malformed"):
        reader.feed(DELIMITER + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                    + b"a" * 9000)
