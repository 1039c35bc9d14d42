"""Ids in URLs: accepted only in their canonical form.

Every id the service hands out (files, upload sessions, purges) is a UUID written as
``str(uuid.UUID(...))``: 36 characters, lowercase, hyphenated. Any other spelling of a UUID
(upper case, braces, no hyphens, ``urn:uuid:``) names nothing and answers 404 like an
unknown id, on every route with an id in its path, so one resource has one URL (one cache
key at the CDN) and nothing but the canonical text ever reaches the database.
"""

from __future__ import annotations

import re

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_id(value: object) -> str | None:
    """``value`` when it is a canonical UUID, else None."""
    if isinstance(value, str) and len(value) == 36 and _CANONICAL.fullmatch(value):
        return value
    return None
