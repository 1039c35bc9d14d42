import email
import email.policy
import os
import random

import pytest

from shared.delivery.ranges import (
    ByteRange,
    RangeOutcome,
    bounded,
    multipart_boundary,
    multipart_content_type,
    multipart_length,
    multipart_parts,
    multipart_trailer,
    parse_range,
    unsatisfied_content_range,
)


def spans(header: str, size: int, **kwargs) -> list[tuple[int, int]]:
    result = parse_range(header, size, **kwargs)
    assert result.satisfiable, result
    return [(r.start, r.end) for r in result.ranges]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-1023", [(0, 1023)]),
        ("bytes=0-0", [(0, 0)]),
        ("bytes=9999-9999", [(9999, 9999)]),
        ("bytes=100-", [(100, 9999)]),
        ("bytes=-500", [(9500, 9999)]),
        ("bytes=-10000", [(0, 9999)]),
        ("bytes=-99999", [(0, 9999)]),  # suffix longer than the file: the whole file
        ("bytes=5000-20000", [(5000, 9999)]),  # last-pos clamped
        ("bytes=0-99999999999999999999999999999999999999999", [(0, 9999)]),
        ("BYTES=0-1", [(0, 1)]),
        ("Bytes=0-1", [(0, 1)]),
        ("bytes=0-1, 5-6 ,\t9-", [(0, 1), (5, 6), (9, 9999)]),
        ("bytes=0-1,,5-6", [(0, 1), (5, 6)]),  # empty list elements are tolerated
        ("bytes=500-600,0-100", [(500, 600), (0, 100)]),  # client order kept
        ("bytes=20000-,0-1", [(0, 1)]),  # unsatisfiable specs are dropped
        ("  bytes=1-2  ", [(1, 2)]),
        ("bytes=007-010", [(7, 10)]),
    ],
)
def test_satisfiable(header: str, expected: list[tuple[int, int]]) -> None:
    assert spans(header, 10_000) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=5-1",
        "bytes=abc",
        "bytes=",
        "bytes=,",
        "bytes=1-2-3",
        "bytes=--1",
        "bytes=-",
        "bytes=0-1,abc",  # one invalid spec invalidates the whole header
        "bytes=0-1,5-1",
        "items=0-1",
        "bytes 0-1",
        "0-1",
        "",
        "bytes=+1-2",
        "bytes=1.5-2",
        "bytes=٣-4",  # non-ASCII digits are not DIGIT
        "bytes = 0-1",
    ],
)
def test_malformed_is_ignored(header: str) -> None:
    result = parse_range(header, 10_000)
    assert result.outcome is RangeOutcome.IGNORED
    assert result.ignored and not result.ranges


def test_no_header_is_ignored() -> None:
    assert parse_range(None, 10).ignored


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=10-", 10),
        ("bytes=10-20", 10),
        ("bytes=-0", 10),
        ("bytes=-0,10-", 10),
        ("bytes=0-0", 0),
        ("bytes=0-", 0),
        ("bytes=-0", 0),
    ],
)
def test_unsatisfiable(header: str, size: int) -> None:
    result = parse_range(header, size)
    assert result.unsatisfiable and not result.ranges
    assert unsatisfied_content_range(size) == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=-5", "bytes=-1", "bytes=0-0,-3"])
def test_a_suffix_on_an_empty_file_is_ignored(header: str) -> None:
    """RFC 9110 §14.1.2: a non-zero suffix is satisfiable on an empty representation, but
    no 206 can carry zero bytes, so the answer is the (empty) 200."""
    assert parse_range(header, 0).ignored


def test_open_ended_flag() -> None:
    (open_range,) = parse_range("bytes=100-", 1000).ranges
    (closed,) = parse_range("bytes=100-999", 1000).ranges
    (suffix,) = parse_range("bytes=-10", 1000).ranges
    assert open_range.open_ended
    assert not closed.open_ended and not suffix.open_ended
    assert (open_range.start, open_range.end) == (closed.start, closed.end)


def test_overlapping_ranges_are_coalesced() -> None:
    assert spans("bytes=0-,0-,0-", 100) == [(0, 99)]
    assert parse_range("bytes=0-,0-", 100).ranges[0].open_ended
    assert spans("bytes=50-60,0-10,5-20", 100) == [(0, 20), (50, 60)]
    assert spans("bytes=0-9,10-19", 100) == [(0, 19)]  # adjacent
    assert spans("bytes=-10,0-5", 100) == [(90, 99), (0, 5)]  # disjoint: order kept


def test_too_many_ranges() -> None:
    many = "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(17))
    assert parse_range(many, 1000).ignored
    assert len(parse_range(many, 1000, max_ranges=17).ranges) == 17
    # Many overlapping tiny ranges collapse into one and are served.
    abusive = "bytes=" + ",".join(f"{i}-{i + 5}" for i in range(500))
    assert spans(abusive, 1000) == [(0, 504)]


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        parse_range("bytes=0-1", -1)
    with pytest.raises(ValueError):
        parse_range("bytes=0-1", 10, max_ranges=0)


def test_byte_range_helpers() -> None:
    r = ByteRange(10, 19)
    assert r.length == 10
    assert r.content_range(100) == "bytes 10-19/100"


def test_bounded_caps_only_open_ranges() -> None:
    (open_range,) = parse_range("bytes=100-", 10_000).ranges
    chunk = bounded(open_range, 1000)
    assert (chunk.start, chunk.end, chunk.length) == (100, 1099, 1000)
    assert bounded(chunk, 1000) == chunk
    (closed,) = parse_range("bytes=100-9999", 10_000).ranges
    assert bounded(closed, 1000) is closed
    (short,) = parse_range("bytes=9990-", 10_000).ranges
    assert bounded(short, 1000) == short
    with pytest.raises(ValueError):
        bounded(open_range, 0)


# --- multipart/byteranges ----------------------------------------------------------------


def assemble(data: bytes, ranges: list[ByteRange], content_type: str, boundary: str) -> bytes:
    body = b"".join(
        head + data[r.start : r.end + 1]
        for head, r in multipart_parts(ranges, len(data), content_type, boundary)
    )
    return body + multipart_trailer(boundary)


def test_multipart_round_trip_with_email_parser() -> None:
    data = bytes(range(256)) * 8 + b"\r\n--not-a-boundary\r\n" + os.urandom(300)
    result = parse_range("bytes=0-9, 100-355, -50, 2000-2030", len(data))
    boundary = multipart_boundary()
    body = assemble(data, list(result.ranges), "application/octet-stream", boundary)
    assert len(body) == multipart_length(
        result.ranges, len(data), "application/octet-stream", boundary
    )

    head = f"Content-Type: {multipart_content_type(boundary)}\r\n\r\n".encode()
    message = email.message_from_bytes(head + body, policy=email.policy.HTTP)
    assert message.is_multipart() and not message.defects
    parts = message.get_payload()
    assert len(parts) == len(result.ranges)
    for part, r in zip(parts, result.ranges, strict=True):
        assert part["Content-Type"] == "application/octet-stream"
        assert part["Content-Range"] == r.content_range(len(data))
        assert part.get_payload(decode=True) == data[r.start : r.end + 1]


def split_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """A strict hand parser of RFC 2046 framing (the delimiter is CRLF--boundary)."""
    delimiter = b"\r\n--" + boundary.encode()
    assert body.startswith(b"--" + boundary.encode() + b"\r\n")
    assert body.endswith(delimiter + b"--\r\n")
    inner = (b"\r\n" + body)[: -len(b"--\r\n")]
    chunks = inner.split(delimiter)
    assert chunks[0] == b"" and chunks[-1] == b""
    parts = []
    for chunk in chunks[1:-1]:
        assert chunk.startswith(b"\r\n")
        raw_headers, _, payload = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in raw_headers.decode().split("\r\n"))
        parts.append((headers, payload))
    return parts


@pytest.mark.parametrize("seed", range(20))
def test_multipart_random_ranges_hand_parser(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randint(1, 3000))
    specs = []
    for _ in range(rng.randint(2, 6)):
        start = rng.randrange(len(data))
        specs.append(f"{start}-{rng.randint(start, len(data) + 10)}")
    result = parse_range("bytes=" + ",".join(specs), len(data))
    boundary = multipart_boundary()
    body = assemble(data, list(result.ranges), "video/mp4", boundary)
    assert len(body) == multipart_length(result.ranges, len(data), "video/mp4", boundary)
    parts = split_multipart(body, boundary)
    assert len(parts) == len(result.ranges)
    for (headers, payload), r in zip(parts, result.ranges, strict=True):
        assert headers == {"Content-Type": "video/mp4", "Content-Range": r.content_range(len(data))}
        assert payload == data[r.start : r.end + 1]


def test_first_part_has_no_leading_crlf() -> None:
    parts = multipart_parts([ByteRange(0, 0), ByteRange(2, 3)], 10, "text/plain", "b0undary")
    assert parts[0][0] == (
        b"--b0undary\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-0/10\r\n\r\n"
    )
    assert parts[1][0].startswith(b"\r\n--b0undary\r\n")
    assert multipart_trailer("b0undary") == b"\r\n--b0undary--\r\n"


def test_boundaries_are_random_and_valid() -> None:
    boundaries = {multipart_boundary() for _ in range(100)}
    assert len(boundaries) == 100
    for b in boundaries:
        assert multipart_content_type(b) == f"multipart/byteranges; boundary={b}"


@pytest.mark.parametrize("content_type", ["text/plain\r\nX-Evil: 1", "text/plain\n", "tëxt/plain"])
def test_header_injection_in_content_type_is_refused(content_type: str) -> None:
    with pytest.raises(ValueError):
        multipart_parts([ByteRange(0, 0)], 1, content_type, "abc")


@pytest.mark.parametrize("boundary", ["", "a b", "x\r\n", "a" * 71])
def test_invalid_boundary_is_refused(boundary: str) -> None:
    with pytest.raises(ValueError):
        multipart_trailer(boundary)
