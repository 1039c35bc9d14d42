"""Comparing the API's answer to a range request with nginx's: status, headers and the
bytes of every part (multipart/byteranges parsed per RFC 9110 §14.6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from tests.integration.helpers import assert_error


@dataclass(frozen=True)
class Served:
    """One file behind both servers."""

    content: bytes
    api_path: str
    nginx_path: str

    @property
    def size(self) -> int:
        return len(self.content)


def assert_same_answer(ours: httpx.Response, theirs: httpx.Response, served: Served,
                       method: str) -> None:
    context = (f"API {ours.status_code} {dict(ours.headers)}\n"
               f"nginx {theirs.status_code} {dict(theirs.headers)}")
    assert ours.status_code == theirs.status_code, context
    assert ours.headers.get("Content-Range") == theirs.headers.get("Content-Range"), context
    assert_accept_ranges(ours, theirs)
    assert ours.headers.get("X-Content-Type-Options") == "nosniff"
    if ours.status_code == 416:
        # Error bodies are the API's JSON error body (DESIGN.md §3), nginx's are HTML.
        if method == "GET":
            assert_error(ours, 416, "RANGE_NOT_SATISFIABLE")
        return
    if not _is_multipart(theirs):  # a multipart length depends on the boundary's length
        assert ours.headers["Content-Length"] == theirs.headers["Content-Length"], context
        assert ours.headers["Content-Type"] == theirs.headers["Content-Type"], context
    if method == "HEAD":
        assert ours.content == theirs.content == b""
        return
    assert ours.headers["Content-Length"] == str(len(ours.content)), context
    assert parts_of(ours) == parts_of(theirs), context
    for _, content_range, data in parts_of(ours):
        assert data == expected_bytes(served.content, content_range), content_range


def assert_accept_ranges(ours: httpx.Response, theirs: httpx.Response) -> None:
    """nginx sends Accept-Ranges on its 200s only; RFC 9110 §14.3 allows it on any response
    and the API always sends it. Where nginx sends it, the values agree."""
    if "Accept-Ranges" in theirs.headers:
        assert ours.headers.get("Accept-Ranges") == theirs.headers["Accept-Ranges"]
    else:
        assert ours.headers.get("Accept-Ranges", "bytes") == "bytes"


def expected_bytes(content: bytes, content_range: str | None) -> bytes:
    """The stored file's bytes that a part with this Content-Range must carry."""
    if content_range is None:
        return content
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
    assert match, content_range
    first, last, size = map(int, match.groups())
    assert size == len(content) and first <= last < size, content_range
    return content[first:last + 1]


def _is_multipart(response: httpx.Response) -> bool:
    return response.headers.get("Content-Type", "").startswith("multipart/byteranges")


Part = tuple[str | None, str | None, bytes]  # Content-Type, Content-Range, bytes


def parts_of(response: httpx.Response) -> list[Part]:
    """One part for a plain answer, the parsed parts of a multipart/byteranges one."""
    if not _is_multipart(response):
        headers = response.headers
        return [(headers.get("Content-Type"), headers.get("Content-Range"), response.content)]
    return parse_byteranges(response)


def parse_byteranges(response: httpx.Response) -> list[Part]:
    """The parts of a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1.1)."""
    match = re.search(r'boundary="?([^";]+)"?', response.headers["Content-Type"])
    assert match, response.headers["Content-Type"]
    delimiter = b"\r\n--" + match.group(1).encode()
    # A CRLF in front lets a delimiter that opens the body match like the others. What comes
    # before the first delimiter is a preamble, to be ignored (nginx's is one CRLF).
    _preamble, *chunks = (b"\r\n" + response.content).split(delimiter)
    assert chunks and chunks[-1].startswith(b"--"), "no close delimiter"
    parts: list[Part] = []
    for chunk in chunks[:-1]:
        head, separator, data = chunk.partition(b"\r\n\r\n")
        assert separator, chunk[:200]
        lines = head.decode("ascii").split("\r\n")
        assert lines[0].strip(" \t") == "", lines  # only transport padding after a delimiter
        headers = dict(_header(line) for line in lines[1:])
        parts.append((headers.get("content-type"), headers.get("content-range"), data))
    return parts


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()
