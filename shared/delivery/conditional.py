"""RFC 9110 §13 conditional requests for reads (GET/HEAD) and If-Range.

Dates are compared at one-second granularity, as HTTP-dates carry no fraction; a naive
``datetime`` is taken to be UTC. Invalid HTTP-dates make their header ignored (§13.1.3/§13.1.4).

Every ``If-*`` value is client input read on the event loop, so it is bounded and parsed in
linear time. A value longer than ``MAX_CONDITION_CHARS`` is not read: an entity-tag list we
refuse to read holds no tag we could match (If-Match then fails with 412, If-None-Match lets
the full response through, If-Range sends the whole representation), and an over-long date is
an invalid date, which RFC 9110 says to ignore. Each outcome is the one a client would get
for a validator that does not match, so it is always safe (a cache merely misses a 304).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

_SAFE_METHODS = frozenset({"GET", "HEAD"})

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text (§8.8.3)
_ETAGC = r"[\x21\x23-\x7e\x80-\xff]"
# Neither pattern can backtrack: the character class excludes the closing DQUOTE, and OWS is
# matched alone (two adjacent OWS runs around an optional tag made the old list pattern
# quadratic: `"a",` + 30,000 spaces + `x` took seconds).
_ETAG = re.compile(rf'(W/)?"({_ETAGC}*)"')
_OWS = re.compile(r"[ \t]*")
# Far above a real list (a browser sends one tag, ours are 66 characters), far below a cost.
MAX_CONDITION_CHARS = 8192


def strong_etag(value: str) -> str:
    """Quote an opaque validator (e.g. a sha256 hex digest) as a strong entity-tag."""
    if not re.fullmatch(f"{_ETAGC}+", value):
        raise ValueError("an entity-tag cannot contain DQUOTE, spaces or control characters")
    return f'"{value}"'


def http_date(dt: datetime) -> str:
    """IMF-fixdate, e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return format_datetime(_utc_seconds(dt), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    """An aware UTC datetime, or None for a missing or invalid date.

    Accepts IMF-fixdate and the obsolete RFC 850 and asctime forms, as recipients must.
    """
    if not value or len(value) > 64:  # the longest valid form is 37 characters
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _utc_seconds(parsed)


def evaluate(
    method: str,
    *,
    etag: str | None,
    last_modified: datetime | None,
    if_none_match: str | None,
    if_modified_since: str | None,
    if_match: str | None = None,
    if_unmodified_since: str | None = None,
) -> int | None:
    """Evaluate preconditions in the order of RFC 9110 §13.2.2.

    Returns 412 (Precondition Failed), 304 (Not Modified), or None to proceed normally.
    ``etag`` is the representation's current entity-tag as sent in the ETag header.
    """
    method = method.upper()
    if if_match is not None:
        if not _if_match(if_match, etag):
            return 412
    elif if_unmodified_since is not None and last_modified is not None:
        since = parse_http_date(if_unmodified_since)
        if since is not None and _utc_seconds(last_modified) > since:
            return 412
    if if_none_match is not None:
        if _if_none_match_fails(if_none_match, etag):
            return 304 if method in _SAFE_METHODS else 412
    elif if_modified_since is not None and method in _SAFE_METHODS and last_modified is not None:
        since = parse_http_date(if_modified_since)
        if since is not None and _utc_seconds(last_modified) <= since:
            return 304
    return None


def if_range_allows_partial(
    if_range: str | None, *, etag: str | None, last_modified: datetime | None
) -> bool:
    """True when the Range header may be honoured (§13.1.5); False means send the full 200.

    An entity-tag must match strongly (a weak one never does); an HTTP-date must equal the
    Last-Modified date exactly. Anything unparseable cannot match.
    """
    if if_range is None or not if_range.strip():
        return True
    if len(if_range) > MAX_CONDITION_CHARS:
        return False
    value = if_range.strip()
    if value.startswith(('"', 'W/"')):
        tag = _parse_etag(value)
        current = _parse_etag(etag) if etag else None
        return tag is not None and current is not None and _strong_match(tag, current)
    since = parse_http_date(value)
    if since is None or last_modified is None:
        return False
    return since == _utc_seconds(last_modified)


# --- entity-tag handling ---------------------------------------------------------------------

# (weak, opaque-tag)
_Tag = tuple[bool, str]


def _parse_etag(value: str) -> _Tag | None:
    match = _ETAG.fullmatch(value.strip())
    return (match.group(1) is not None, match.group(2)) if match else None


def _parse_etag_list(value: str) -> list[_Tag]:
    """The entity-tags of a list header, in one pass; empty list elements are skipped
    (§5.6.1.2). A malformed or over-long list yields no tags, so nothing matches."""
    if len(value) > MAX_CONDITION_CHARS:
        return []
    tags: list[_Tag] = []
    position, end = 0, len(value)
    while position < end:
        position = _skip_ows(value, position)
        if position == end:
            break
        if value[position] != ",":
            match = _ETAG.match(value, position)
            if match is None:
                return []
            tags.append((match.group(1) is not None, match.group(2)))
            position = _skip_ows(value, match.end())
            if position < end and value[position] != ",":
                return []
        position += 1  # past the comma
    return tags


def _skip_ows(value: str, position: int) -> int:
    match = _OWS.match(value, position)  # always matches (possibly nothing)
    return match.end() if match else position


def _strong_match(a: _Tag, b: _Tag) -> bool:
    return not a[0] and not b[0] and a[1] == b[1]


def _weak_match(a: _Tag, b: _Tag) -> bool:
    return a[1] == b[1]


def _if_match(header: str, etag: str | None) -> bool:
    """If-Match is true for ``*`` or a strongly matching tag (§13.1.1)."""
    if len(header) <= MAX_CONDITION_CHARS and header.strip() == "*":
        return True  # the representation exists, since we are serving it
    current = _parse_etag(etag) if etag else None
    return current is not None and any(
        _strong_match(tag, current) for tag in _parse_etag_list(header)
    )


def _if_none_match_fails(header: str, etag: str | None) -> bool:
    """If-None-Match is false for ``*`` or a weakly matching tag (§13.1.2)."""
    if len(header) <= MAX_CONDITION_CHARS and header.strip() == "*":
        return True
    current = _parse_etag(etag) if etag else None
    return current is not None and any(
        _weak_match(tag, current) for tag in _parse_etag_list(header)
    )


def _utc_seconds(dt: datetime) -> datetime:
    aware = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return aware.replace(microsecond=0)
