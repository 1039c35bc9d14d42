"""RFC 9110 §14 byte-range requests: parsing, bounding and multipart/byteranges framing.

Policy choices (RFC 9110 leaves them to the server):

* A missing, malformed or non-``bytes`` Range header is *ignored* (full 200), never an error:
  one invalid range-spec invalidates the whole header (§14.2).
* Range-specs that do not overlap the representation are dropped; if none is left the
  request is *unsatisfiable* (416 with ``Content-Range: bytes */size``). A 0-byte
  representation answers a non-zero suffix range with the empty 200 (as nginx does) and any
  other byte range with 416.
* Overlapping or adjacent ranges are always coalesced (sorted by start) so that a request like
  ``bytes=0-,0-,0-`` cannot multiply the response size (§14.3 and §15.3.7.2 allow this).
  Otherwise the parts keep the client's order, as §15.3.7.2 recommends.
* If more than ``max_ranges`` ranges remain after coalescing, the header is ignored and the
  full representation is served: the response then costs no more than a plain GET, whereas
  many tiny parts would cost a part header each.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

# No representation can be this large; longer digit strings are clamped to it instead of
# being handed to int() (which refuses strings of more than 4300 digits).
_HUGE = 10**30
_MAX_DIGITS = 30

_RANGE_SPEC = re.compile(r"(?:([0-9]+)-([0-9]*)|-([0-9]+))")
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,./:=?-]{1,70}")


class RangeOutcome(StrEnum):
    IGNORED = "ignored"
    UNSATISFIABLE = "unsatisfiable"
    SATISFIABLE = "satisfiable"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``start..end`` already clamped to the representation."""

    start: int
    end: int
    # True for ``bytes=N-``: the client asked for "the rest", so a bounded chunk is acceptable.
    open_ended: bool = False

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


@dataclass(frozen=True, slots=True)
class RangeRequest:
    outcome: RangeOutcome
    ranges: tuple[ByteRange, ...] = ()

    @property
    def ignored(self) -> bool:
        return self.outcome is RangeOutcome.IGNORED

    @property
    def unsatisfiable(self) -> bool:
        return self.outcome is RangeOutcome.UNSATISFIABLE

    @property
    def satisfiable(self) -> bool:
        return self.outcome is RangeOutcome.SATISFIABLE


_IGNORED = RangeRequest(RangeOutcome.IGNORED)
_UNSATISFIABLE = RangeRequest(RangeOutcome.UNSATISFIABLE)


def unsatisfied_content_range(size: int) -> str:
    """``Content-Range`` value of a 416 response."""
    return f"bytes */{size}"


def parse_range(header: str | None, size: int, *, max_ranges: int = 16) -> RangeRequest:
    """Interpret a Range header for a representation of ``size`` bytes."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if max_ranges < 1:
        raise ValueError("max_ranges must be >= 1")
    specs = _parse_specs(header)
    if specs is None:
        return _IGNORED
    if size == 0 and any(first is None and last for first, last in specs):
        # RFC 9110 §14.1.2: a non-zero suffix is satisfiable even on an empty representation,
        # yet no 206 can describe zero bytes, so the header is ignored (200, empty body).
        return _IGNORED
    ranges = [r for spec in specs if (r := _resolve(spec, size)) is not None]
    if not ranges:
        return _UNSATISFIABLE
    if _overlap_or_touch(ranges) or len(ranges) > max_ranges:
        ranges = _coalesce(ranges)
        if len(ranges) > max_ranges:
            return _IGNORED
    return RangeRequest(RangeOutcome.SATISFIABLE, tuple(ranges))


# A parsed range-spec: (first, last) for int-range (last None when open), (None, n) for suffix.
_Spec = tuple[int | None, int | None]


def _parse_specs(header: str | None) -> list[_Spec] | None:
    """The range-specs of a ``bytes`` Range header, or None when it must be ignored."""
    if header is None:
        return None
    unit, sep, range_set = header.strip().partition("=")
    if not sep or unit.lower() != "bytes":
        return None
    specs: list[_Spec] = []
    # RFC 9110 §5.6.1.2: list recipients accept empty elements, but at least one is needed.
    for element in range_set.split(","):
        element = element.strip(" \t")
        if not element:
            continue
        match = _RANGE_SPEC.fullmatch(element)
        if match is None:
            return None
        first, last, suffix = match.groups()
        if suffix is not None:
            specs.append((None, _to_int(suffix)))
            continue
        first_pos = _to_int(first)
        last_pos = _to_int(last) if last else None
        if last_pos is not None and last_pos < first_pos:
            return None
        specs.append((first_pos, last_pos))
    return specs or None


def _to_int(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return _HUGE if len(digits) > _MAX_DIGITS else int(digits)


def _resolve(spec: _Spec, size: int) -> ByteRange | None:
    """Clamp one range-spec to the representation, or None when it is unsatisfiable."""
    first, last = spec
    if first is None:  # suffix-range: the last `last` bytes
        assert last is not None
        if last == 0 or size == 0:
            return None
        return ByteRange(max(0, size - last), size - 1)
    if first >= size:
        return None
    if last is None:
        return ByteRange(first, size - 1, open_ended=True)
    return ByteRange(first, min(last, size - 1))


def _overlap_or_touch(ranges: Sequence[ByteRange]) -> bool:
    ordered = sorted(ranges, key=lambda r: r.start)
    return any(b.start <= a.end + 1 for a, b in itertools.pairwise(ordered))


def _coalesce(ranges: Sequence[ByteRange]) -> list[ByteRange]:
    merged: list[ByteRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end + 1:
            last = merged[-1]
            merged[-1] = ByteRange(
                last.start, max(last.end, r.end), last.open_ended or r.open_ended
            )
        else:
            merged.append(r)
    return merged


def bounded(byte_range: ByteRange, max_chunk: int) -> ByteRange:
    """Cap an open-ended range (``bytes=N-``) to ``max_chunk`` bytes.

    The 206 response's Content-Range tells the client where the chunk ends, and browsers and
    media players ask for the next one. Closed ranges are returned unchanged: the client asked
    for exactly those bytes.
    """
    if max_chunk < 1:
        raise ValueError("max_chunk must be >= 1")
    if not byte_range.open_ended or byte_range.length <= max_chunk:
        return byte_range
    return ByteRange(byte_range.start, byte_range.start + max_chunk - 1, open_ended=True)


# --- multipart/byteranges (RFC 9110 §14.6) ---------------------------------------------------


def multipart_boundary() -> str:
    """A random boundary; 128 bits make a collision with the file's bytes negligible."""
    return secrets.token_hex(16)


def multipart_content_type(boundary: str) -> str:
    """``Content-Type`` of the 206 response that carries several parts."""
    _check_boundary(boundary)
    return f"multipart/byteranges; boundary={boundary}"


def multipart_parts(
    ranges: Sequence[ByteRange], size: int, content_type: str, boundary: str
) -> list[tuple[bytes, ByteRange]]:
    """Each part's header bytes, to be written just before that range's bytes.

    Every part after the first starts with the CRLF that ends the previous part's body.
    """
    _check_boundary(boundary)
    _check_header_value(content_type)
    parts = []
    for index, byte_range in enumerate(ranges):
        head = (
            f"--{boundary}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Range: {byte_range.content_range(size)}\r\n\r\n"
        ).encode("ascii")
        parts.append((head if index == 0 else b"\r\n" + head, byte_range))
    return parts


def multipart_trailer(boundary: str) -> bytes:
    _check_boundary(boundary)
    return f"\r\n--{boundary}--\r\n".encode("ascii")


def multipart_length(
    ranges: Sequence[ByteRange], size: int, content_type: str, boundary: str
) -> int:
    """Exact Content-Length of the multipart body (parts + trailer)."""
    parts = multipart_parts(ranges, size, content_type, boundary)
    return sum(len(head) + r.length for head, r in parts) + len(multipart_trailer(boundary))


def _check_boundary(boundary: str) -> None:
    # RFC 2046 bchars without space (a trailing space would be stripped by parsers).
    if not _BOUNDARY.fullmatch(boundary):
        raise ValueError("invalid multipart boundary")


def _check_header_value(value: str) -> None:
    # The media type goes into a part header: refuse anything that could inject a header.
    if not value.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("content type must be printable ASCII")
