import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.delivery.conditional import (
    MAX_CONDITION_CHARS,
    evaluate,
    http_date,
    if_range_allows_partial,
    parse_http_date,
    strong_etag,
)

ETAG = strong_etag("a" * 64)
MODIFIED = datetime(2024, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
MODIFIED_HTTP = "Fri, 01 Mar 2024 12:30:45 GMT"
EARLIER = "Fri, 01 Mar 2024 12:30:44 GMT"
LATER = "Fri, 01 Mar 2024 12:30:46 GMT"


def check(method: str = "GET", **headers: str | None) -> int | None:
    values = {"if_none_match": None, "if_modified_since": None} | headers
    return evaluate(method, etag=ETAG, last_modified=MODIFIED, **values)


def test_strong_etag() -> None:
    assert strong_etag("abc123") == '"abc123"'
    for bad in ['a"b', "a b", "", "a\r\n", "a\x00"]:
        with pytest.raises(ValueError):
            strong_etag(bad)


def test_http_date() -> None:
    assert http_date(MODIFIED) == MODIFIED_HTTP
    assert http_date(datetime(1994, 11, 6, 8, 49, 37)) == "Sun, 06 Nov 1994 08:49:37 GMT"
    plus_two = MODIFIED.astimezone(timezone(timedelta(hours=2)))
    assert http_date(plus_two) == MODIFIED_HTTP


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # RFC 850
        "Sun Nov  6 08:49:37 1994",  # asctime
    ],
)
def test_parse_http_date_formats(value: str) -> None:
    assert parse_http_date(value) == datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, "", "yesterday", "Sun, 99 Foo 1994 08:49:37 GMT", "0"])
def test_parse_http_date_invalid(value: str | None) -> None:
    assert parse_http_date(value) is None


def test_no_preconditions_proceed() -> None:
    assert check() is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ETAG, 304),
        (f"W/{ETAG}", 304),  # weak comparison
        (f'"other", {ETAG}', 304),
        (f'"other",W/"x" , {ETAG}', 304),
        ("*", 304),
        ('"other"', None),
        ('"other", W/"x"', None),
        ("garbage", None),
        (ETAG[1:-1], None),  # unquoted tag is not a match
    ],
)
def test_if_none_match(header: str, expected: int | None) -> None:
    assert check(if_none_match=header) == expected
    assert check("HEAD", if_none_match=header) == expected


def test_if_none_match_on_unsafe_method_is_412() -> None:
    assert check("PUT", if_none_match="*") == 412
    assert check("DELETE", if_none_match=ETAG) == 412


def test_if_none_match_with_weak_current_etag() -> None:
    weak = 'W/"v1"'
    result = evaluate(
        "GET", etag=weak, last_modified=MODIFIED, if_none_match='"v1"', if_modified_since=None
    )
    assert result == 304


@pytest.mark.parametrize(
    ("header", "expected"),
    [(MODIFIED_HTTP, 304), (LATER, 304), (EARLIER, None), ("not a date", None)],
)
def test_if_modified_since(header: str, expected: int | None) -> None:
    assert check(if_modified_since=header) == expected


def test_if_modified_since_only_for_get_and_head() -> None:
    assert check("HEAD", if_modified_since=LATER) == 304
    assert check("POST", if_modified_since=LATER) is None


def test_if_none_match_takes_precedence_over_if_modified_since() -> None:
    # The date alone would give 304, but a non-matching tag says the client's copy is stale.
    assert check(if_none_match='"stale"', if_modified_since=LATER) is None
    assert check(if_none_match=ETAG, if_modified_since=EARLIER) == 304


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ETAG, None),
        (f'"x", {ETAG}', None),
        ("*", None),
        (f"W/{ETAG}", 412),  # If-Match uses the strong comparison
        ('"other"', 412),
        ("garbage", 412),
    ],
)
def test_if_match(header: str, expected: int | None) -> None:
    assert check(if_match=header) == expected


def test_if_match_against_weak_current_etag_fails() -> None:
    result = evaluate(
        "GET",
        etag='W/"v1"',
        last_modified=MODIFIED,
        if_none_match=None,
        if_modified_since=None,
        if_match='W/"v1"',
    )
    assert result == 412


@pytest.mark.parametrize(
    ("header", "expected"),
    [(MODIFIED_HTTP, None), (LATER, None), (EARLIER, 412), ("garbage", None)],
)
def test_if_unmodified_since(header: str, expected: int | None) -> None:
    assert check(if_unmodified_since=header) == expected


def test_if_match_overrides_if_unmodified_since() -> None:
    assert check(if_match=ETAG, if_unmodified_since=EARLIER) is None


def test_412_wins_over_304() -> None:
    assert check(if_match='"other"', if_none_match=ETAG) == 412
    assert check(if_unmodified_since=EARLIER, if_modified_since=LATER) == 412


def test_if_match_passes_then_if_none_match_evaluated() -> None:
    assert check(if_match=ETAG, if_none_match=ETAG) == 304


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (None, True),
        ("", True),
        (ETAG, True),
        (f" {ETAG} ", True),
        (f"W/{ETAG}", False),  # weak tags never match
        ('"other"', False),
        (MODIFIED_HTTP, True),
        (EARLIER, False),
        (LATER, False),  # exact match only
        ("garbage", False),
        (f"{ETAG}, {ETAG}", False),  # a list is not an entity-tag
    ],
)
def test_if_range(if_range: str | None, expected: bool) -> None:
    assert if_range_allows_partial(if_range, etag=ETAG, last_modified=MODIFIED) is expected


def test_if_range_with_weak_current_etag_never_matches() -> None:
    assert not if_range_allows_partial('"v1"', etag='W/"v1"', last_modified=MODIFIED)


def test_naive_last_modified_is_utc() -> None:
    naive = MODIFIED.replace(tzinfo=None)
    assert if_range_allows_partial(MODIFIED_HTTP, etag=None, last_modified=naive)
    result = evaluate(
        "GET", etag=None, last_modified=naive, if_none_match=None, if_modified_since=MODIFIED_HTTP
    )
    assert result == 304


# --- hostile lists: linear time, bounded length ------------------------------------------

@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"{ETAG},", 304),  # empty list elements are skipped (RFC 9110 §5.6.1.2)
        (f", ,{ETAG}", 304),
        (f' , "x" ,, {ETAG} , ', 304),
        ('"a,b", "c"', None),  # a comma inside an entity-tag is not a separator
        (f'"a" {ETAG}', None),  # two tags without a comma: malformed, nothing matches
        (f'"unterminated, {ETAG}', None),
        (f'"a",\t{ETAG}', 304),
    ],
)
def test_if_none_match_list_syntax(header: str, expected: int | None) -> None:
    assert check(if_none_match=header) == expected


def test_a_comma_inside_an_entity_tag_is_part_of_it() -> None:
    tag = '"v1,v2"'
    result = evaluate("GET", etag=tag, last_modified=MODIFIED, if_none_match=f'"x", {tag}',
                      if_modified_since=None)
    assert result == 304


@pytest.mark.parametrize("header", ["if_none_match", "if_match"])
def test_a_list_with_thirty_thousand_spaces_is_answered_in_milliseconds(header: str) -> None:
    """`"a",` + 30,000 spaces + `x` took 6.5 s of CPU with the old backtracking pattern."""
    hostile = '"a",' + " " * 30_000 + "x"
    started = time.perf_counter()
    result = check(**{header: hostile})
    assert time.perf_counter() - started < 0.05
    assert result == (None if header == "if_none_match" else 412)


@pytest.mark.parametrize("spaces", [MAX_CONDITION_CHARS - 10, 1_000_000])
def test_parsing_is_linear_below_and_above_the_bound(spaces: int) -> None:
    hostile = '"a",' + " " * spaces + f"{ETAG}x"
    started = time.perf_counter()
    assert check(if_none_match=hostile) is None
    assert time.perf_counter() - started < 0.05


def test_a_list_over_the_bound_matches_nothing() -> None:
    """Not read at all: If-None-Match lets the full response through, If-Match fails."""
    padding = ", ".join(['"filler"'] * (MAX_CONDITION_CHARS // 10))
    long_list = f"{padding}, {ETAG}"
    assert len(long_list) > MAX_CONDITION_CHARS
    assert check(if_none_match=long_list) is None
    assert check(if_match=long_list) == 412
    assert check(if_match="*" + " " * MAX_CONDITION_CHARS) == 412
    assert not if_range_allows_partial(ETAG + " " * MAX_CONDITION_CHARS, etag=ETAG,
                                       last_modified=MODIFIED)
    shorter = ", ".join(['"filler"'] * 10 + [ETAG])
    assert check(if_none_match=shorter) == 304 and check(if_match=shorter) is None


def test_an_over_long_date_is_an_invalid_date() -> None:
    padded = MODIFIED_HTTP + " " * 100
    assert parse_http_date(padded) is None
    assert check(if_modified_since=padded) is None
    assert check(if_unmodified_since=EARLIER + " " * 100) is None
