"""``/stream`` answers range requests the way nginx, a reference static server, does.

Files are uploaded through the API (public, so that no token differs between the two
servers) and the very same bytes are written into a real nginx's root. Every request of the
battery goes to both; status, ``Content-Range``, ``Content-Length``, ``Accept-Ranges``,
``Content-Type`` and the bytes must agree (multipart/byteranges bodies part by part: the
boundaries differ), and every byte must also be the stored file's own.

Where the API deliberately answers otherwise (``shared/delivery/ranges.py``, DESIGN.md §3),
the case says why and names the nginx request whose answer the API's must equal instead.
Validators differ by construction (nginx's ETag is mtime-size), so conditional requests go to
each server with its own validators and must get the same status.
"""

from __future__ import annotations

import email.utils
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest

from tests.integration.helpers import assert_error
from tests.integration.media import make_mp4
from tests.integration.nginx import Nginx, nginx
from tests.integration.range_compare import Served, assert_same_answer, parts_of

STREAM = "/api/v1/storage/stream"
BLOCK = 1024 * 1024  # the session's UPLOAD_BLOCK_SIZE: a range across it spans two blocks


@pytest.fixture(scope="module")
def reference_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with nginx(tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture(scope="module")
def nginx_client(reference_server: Nginx) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must not stand between us and nginx.
    with httpx.Client(base_url=reference_server.url, timeout=30, trust_env=False) as client:
        yield client


def serve_both(api: httpx.Client, headers: dict[str, str], server: Nginx, content: bytes,
               filename: str, mime: str) -> Served:
    """Upload ``content`` as a public file and put the same bytes into nginx's root, with the
    API's Last-Modified as mtime (nginx's Last-Modified), so that date validators
    (If-Range, If-Modified-Since) name the same instant on both servers."""
    response = api.post(
        "/api/v1/storage/upload", headers=headers,
        files={"file": (filename, content, mime),
               "metadata": (None, json.dumps({"is_public": True}), "application/json")},
    )
    assert response.status_code == 201, response.text
    api_path = f"{STREAM}/{response.json()['file']['id']}"
    name = f"{uuid.uuid4().hex}-{filename}"
    copy = server.root / name
    copy.write_bytes(content)
    modified = email.utils.parsedate_to_datetime(api.head(api_path).headers["Last-Modified"])
    os.utime(copy, (modified.timestamp(), modified.timestamp()))
    return Served(content, api_path, f"/{name}")


@pytest.fixture(scope="module")
def served(api: httpx.Client, auth_headers: Callable[..., dict[str, str]],
           reference_server: Nginx, tmp_path_factory: pytest.TempPathFactory) -> Served:
    """An MP4 of more than one storage block (the browser test's kind of file)."""
    video = make_mp4(tmp_path_factory.mktemp("media"), faststart=False)
    assert BLOCK < len(video.content) < 3 * BLOCK  # several blocks, under MAX_FILE_SIZE
    return serve_both(api, auth_headers(f"u-parity-{uuid.uuid4().hex[:8]}"), reference_server,
                      video.content, "pattern.mp4", "video/mp4")


def send(client: httpx.Client, method: str, path: str, range_header: str | None,
         extra: dict[str, str] | None = None) -> httpx.Response:
    headers = {**({"Range": range_header} if range_header is not None else {}), **(extra or {})}
    return client.request(method, path, headers=headers)


# --------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Case:
    name: str
    range: str | None  # ``{last}`` stands for the position of the file's last byte
    method: str = "GET"
    # A deliberate difference: the API's answer must equal nginx's answer to this Range
    # header instead (None: to no Range header at all).
    like_nginx_for: str | None = None
    deliberate: bool = False

    def header(self, size: int) -> str | None:
        return self.range.format(last=size - 1) if self.range is not None else None

    def reference_header(self, size: int) -> str | None:
        if not self.deliberate:
            return self.header(size)
        return self.like_nginx_for.format(last=size - 1) if self.like_nginx_for else None


SEVENTEEN_RANGES = "bytes=" + ",".join(f"{2 * i}-{2 * i}" for i in range(17))

CASES = [
    Case("no range", None),
    Case("first byte", "bytes=0-0"),
    Case("first KiB", "bytes=0-1023"),
    Case("open range", "bytes=100-"),
    Case("suffix", "bytes=-500"),
    Case("suffix of zero bytes", "bytes=-0"),
    Case("whole file as a range", "bytes=0-"),
    Case("last byte", "bytes={last}-{last}"),
    Case("start past the end", "bytes=999999999-"),
    Case("start at the size", "bytes={last}0-"),
    Case("end past the size", "bytes=10-999999999"),
    Case("suffix longer than the file", "bytes=-999999999"),
    Case("across a storage block", f"bytes={BLOCK - 10}-{BLOCK + 10}"),
    Case("leading zeros", "bytes=000-009"),
    Case("unit in capitals", "BYTES=0-9"),
    Case("spaces in the list", "bytes=0-9, 20-29"),
    Case("other unit", "items=0-1"),
    Case("no range-set", "bytes="),
    Case("two ranges", "bytes=0-1,5-9"),
    Case("first and last byte", "bytes=0-0,{last}-"),
    Case("three ranges, out of order", "bytes=500-599,0-9,-10"),
    Case("a satisfiable and an unsatisfiable range", "bytes=0-9,999999999-"),
    Case("head, no range", None, method="HEAD"),
    Case("head, one range", "bytes=0-1023", method="HEAD"),
    Case("head, two ranges", "bytes=0-1,5-9", method="HEAD"),
    Case("head, past the end", "bytes=999999999-", method="HEAD"),
    # RFC 9110 §14.2: a server MAY ignore or reject an invalid ranges-specifier. nginx rejects
    # it (416); the API ignores it (DESIGN.md §3), so its answer is nginx's plain 200.
    Case("last before first", "bytes=5-1", like_nginx_for=None, deliberate=True),
    Case("not a range", "bytes=abc", like_nginx_for=None, deliberate=True),
    Case("dash alone", "bytes=-", like_nginx_for=None, deliberate=True),
    # §14.3 lets a server coalesce overlapping or adjacent ranges. nginx sends bytes 5-10
    # twice (two parts); the API one part 0-20, each byte once (ranges.py: so that
    # `bytes=0-,0-,0-` cannot multiply the response).
    Case("overlapping ranges", "bytes=0-10,5-20", like_nginx_for="bytes=0-20",
         deliberate=True),
    Case("adjacent ranges", "bytes=0-9,10-19", like_nginx_for="bytes=0-19", deliberate=True),
    # Coalesced, `0-,0-` is the whole file as one range; nginx instead ignores ranges that add
    # up to more than the file (a plain 200). Same bytes, 206 instead of 200.
    Case("the whole file twice", "bytes=0-,0-", like_nginx_for="bytes=0-", deliberate=True),
    # More than 16 ranges (ranges.py's max_ranges): the API ignores the header, as §14.2
    # allows, instead of framing many tiny parts; nginx has no such limit by default.
    Case("seventeen ranges", SEVENTEEN_RANGES, like_nginx_for=None, deliberate=True),
    # §5.6.1.2: a list recipient accepts empty elements; nginx refuses the header (416).
    Case("empty list element", "bytes=0-1,,4-5", like_nginx_for="bytes=0-1,4-5",
         deliberate=True),
    # §14.1.2: a last-pos past the end means "to the end", however many digits it has. nginx
    # answers 416 once a number overflows its off_t; the API clamps it, as the RFC says.
    Case("end with 23 digits", "bytes=0-99999999999999999999999", like_nginx_for="bytes=0-",
         deliberate=True),
    Case("suffix with 23 digits", "bytes=-99999999999999999999999", like_nginx_for="bytes=0-",
         deliberate=True),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_range_answer_matches_nginx(case: Case, served: Served, api: httpx.Client,
                                    nginx_client: httpx.Client) -> None:
    compare_case(case, served, api, nginx_client)


def compare_case(case: Case, served: Served, api: httpx.Client, nginx_client: httpx.Client
                 ) -> None:
    ours = send(api, case.method, served.api_path, case.header(served.size))
    theirs = send(nginx_client, case.method, served.nginx_path,
                  case.reference_header(served.size))
    if case.deliberate:
        # The difference is real: nginx's answer to the request as sent is something else.
        literal = send(nginx_client, case.method, served.nginx_path, case.header(served.size))
        assert (literal.status_code, parts_of(literal)) != (ours.status_code, parts_of(ours))
    assert_same_answer(ours, theirs, served, case.method)


# The edges of tiny files: the empty one, and one of a single byte.
TINY_CASES = [
    (b"", Case("empty, no range", None)),
    (b"", Case("empty, start past the end", "bytes=1-")),
    # §14.1.2: on an empty representation `bytes=0-` is unsatisfiable (first-pos is not less
    # than the length), so the API's 416 is the RFC's answer; nginx uses §14.2's leave to
    # ignore Range when there is no content (200). Its 416 for `bytes=1-` is the same answer.
    (b"", Case("empty, from the start", "bytes=0-", like_nginx_for="bytes=1-",
               deliberate=True)),
    # §14.1.2: "When a selected representation has zero length, the only satisfiable form of
    # range-spec in a GET request is a suffix-range with a non-zero suffix-length", and 416
    # means that no range was satisfiable (§15.5.17). No 206 can describe zero bytes, so the
    # answer is §14.2's: ignore Range, a plain 200 with the empty content, as nginx sends.
    # (Fails while ranges.py's _resolve takes any range on an empty file as unsatisfiable.)
    (b"", Case("empty, suffix", "bytes=-1")),
    (b"x", Case("one byte, no range", None)),
    (b"x", Case("one byte, from the start", "bytes=0-")),
    (b"x", Case("one byte, the byte", "bytes=0-0")),
    (b"x", Case("one byte, suffix", "bytes=-1")),
    (b"x", Case("one byte, end past the size", "bytes=0-999")),
    (b"x", Case("one byte, start past the end", "bytes=1-")),
    (b"x", Case("one byte, suffix of zero bytes", "bytes=-0")),
    # Coalesced, `0-0,-1` on one byte is the byte once (206); nginx ignores ranges that add up
    # to more than the file (200). Same byte.
    (b"x", Case("one byte, twice", "bytes=0-0,-1", like_nginx_for="bytes=0-0",
                deliberate=True)),
]


@pytest.mark.parametrize(("content", "case"), TINY_CASES, ids=[c.name for _, c in TINY_CASES])
def test_tiny_file_answer_matches_nginx(
    content: bytes, case: Case, api: httpx.Client, auth_headers: Callable[..., dict[str, str]],
    user: str, reference_server: Nginx, nginx_client: httpx.Client,
) -> None:
    tiny = serve_both(api, auth_headers(user), reference_server, content, "tiny.txt",
                      "text/plain")
    compare_case(case, tiny, api, nginx_client)


def test_head_announces_what_get_sends(served: Served, api: httpx.Client) -> None:
    """HEAD's headers are GET's, a multipart length included (the boundary is random, but
    always of the same length, so the lengths must agree exactly)."""
    for range_header in (None, "bytes=0-1023", "bytes=0-1,5-9", "bytes=999999999-"):
        head = send(api, "HEAD", served.api_path, range_header)
        get = send(api, "GET", served.api_path, range_header)
        assert head.status_code == get.status_code
        assert head.content == b""
        assert head.headers["Content-Length"] == get.headers["Content-Length"], range_header
        for name in ("Content-Range", "Accept-Ranges", "ETag", "Last-Modified"):
            assert head.headers.get(name) == get.headers.get(name), name


# --------------------------------------------------------------------------- conditionals


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: str

    @classmethod
    def of(cls, response: httpx.Response) -> Validators:
        return cls(response.headers["ETag"], response.headers["Last-Modified"])

    def date_before(self) -> str:
        moment = email.utils.parsedate_to_datetime(self.last_modified) - timedelta(days=1)
        return email.utils.format_datetime(moment, usegmt=True)


OTHER_TAG = '"not-the-current-tag"'


@dataclass(frozen=True)
class Conditional:
    name: str
    headers: Callable[[Validators], dict[str, str]]  # from the server's own validators
    range: str | None
    status: int  # what RFC 9110 §13.2.2 requires
    nginx_status: int | None = None  # where nginx departs from §13.2.2 (None: `status`)


CONDITIONALS = [
    Conditional("if-none-match current", lambda v: {"If-None-Match": v.etag}, None, 304),
    Conditional("if-none-match weak current", lambda v: {"If-None-Match": f"W/{v.etag}"},
                None, 304),
    Conditional("if-none-match in a list",
                lambda v: {"If-None-Match": f"{OTHER_TAG}, {v.etag}"}, None, 304),
    Conditional("if-none-match star", lambda v: {"If-None-Match": "*"}, None, 304),
    Conditional("if-none-match other", lambda v: {"If-None-Match": OTHER_TAG}, None, 200),
    Conditional("if-none-match current with range", lambda v: {"If-None-Match": v.etag},
                "bytes=0-9", 304),
    Conditional("if-modified-since last-modified",
                lambda v: {"If-Modified-Since": v.last_modified}, None, 304),
    Conditional("if-modified-since earlier", lambda v: {"If-Modified-Since": v.date_before()},
                None, 200),
    Conditional("if-none-match other, if-modified-since last-modified",
                lambda v: {"If-None-Match": OTHER_TAG, "If-Modified-Since": v.last_modified},
                None, 200),
    # §13.2.2 step 3: If-None-Match decides and If-Modified-Since is ignored. nginx sends the
    # content as soon as If-Modified-Since says "modified", whatever If-None-Match says.
    Conditional("if-none-match star, if-modified-since earlier",
                lambda v: {"If-None-Match": "*", "If-Modified-Since": v.date_before()}, None,
                304, nginx_status=200),
    Conditional("if-match current", lambda v: {"If-Match": v.etag}, None, 200),
    Conditional("if-match current with range", lambda v: {"If-Match": v.etag}, "bytes=0-9",
                206),
    Conditional("if-match star", lambda v: {"If-Match": "*"}, None, 200),
    Conditional("if-match other", lambda v: {"If-Match": OTHER_TAG}, None, 412),
    Conditional("if-match weak current", lambda v: {"If-Match": f"W/{v.etag}"}, None, 412),
    Conditional("if-unmodified-since earlier",
                lambda v: {"If-Unmodified-Since": v.date_before()}, None, 412),
    Conditional("if-unmodified-since last-modified",
                lambda v: {"If-Unmodified-Since": v.last_modified}, None, 200),
    # §13.2.2 step 2: If-Unmodified-Since counts only without If-Match; nginx checks both.
    Conditional("if-match current, if-unmodified-since earlier",
                lambda v: {"If-Match": v.etag, "If-Unmodified-Since": v.date_before()}, None,
                200, nginx_status=412),
    Conditional("if-range current tag", lambda v: {"If-Range": v.etag}, "bytes=0-9", 206),
    Conditional("if-range weak current tag", lambda v: {"If-Range": f"W/{v.etag}"},
                "bytes=0-9", 200),
    Conditional("if-range other tag", lambda v: {"If-Range": OTHER_TAG}, "bytes=0-9", 200),
    Conditional("if-range last-modified", lambda v: {"If-Range": v.last_modified},
                "bytes=0-9", 206),
    Conditional("if-range earlier date", lambda v: {"If-Range": v.date_before()},
                "bytes=0-9", 200),
    Conditional("if-range current tag, if-none-match current",
                lambda v: {"If-Range": v.etag, "If-None-Match": v.etag}, "bytes=0-9", 304),
]


@pytest.mark.parametrize("conditional", CONDITIONALS, ids=[c.name for c in CONDITIONALS])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_conditional_answer_matches_nginx(conditional: Conditional, method: str,
                                          served: Served, api: httpx.Client,
                                          nginx_client: httpx.Client) -> None:
    api_validators = Validators.of(api.head(served.api_path))
    nginx_validators = Validators.of(nginx_client.head(served.nginx_path))
    assert api_validators.last_modified == nginx_validators.last_modified  # see serve_both
    ours = send(api, method, served.api_path, conditional.range,
                conditional.headers(api_validators))
    theirs = send(nginx_client, method, served.nginx_path, conditional.range,
                  conditional.headers(nginx_validators))
    nginx_status = conditional.nginx_status or conditional.status
    assert (ours.status_code, theirs.status_code) == (conditional.status, nginx_status)
    if conditional.status == 304:
        assert_not_modified(ours, api_validators, served)
    elif conditional.status == 412:
        if method == "GET":
            assert_error(ours, 412, "PRECONDITION_FAILED")
    elif conditional.nginx_status is None:
        assert_same_answer(ours, theirs, served, method)


def test_etag_is_strong_and_stable(served: Served, api: httpx.Client) -> None:
    """The API's validator is the same on every request and on 200, 206, 304 and HEAD; it is
    strong, so that If-Range (strong comparison only) can use it."""
    full = api.get(served.api_path)
    partial = send(api, "GET", served.api_path, "bytes=0-9")
    not_modified = api.get(served.api_path, headers={"If-None-Match": full.headers["ETag"]})
    assert not_modified.status_code == 304
    etags = {r.headers["ETag"] for r in (full, partial, not_modified, api.head(served.api_path))}
    assert len(etags) == 1
    assert not full.headers["ETag"].startswith("W/")


def assert_not_modified(response: httpx.Response, validators: Validators, served: Served
                        ) -> None:
    """RFC 9110 §15.4.5: no content; the ETag and Cache-Control a 200 would carry; a
    Content-Length only if it is the 200's."""
    assert response.content == b""
    assert response.headers["ETag"] == validators.etag
    assert "Cache-Control" in response.headers
    length = response.headers.get("Content-Length")
    assert length in (None, str(served.size)), f"304 with Content-Length {length}"
    assert "Content-Range" not in response.headers
