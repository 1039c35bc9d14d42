"""Which methods a path has: for the 405 answers (``Allow``) of the routes' fallbacks.

The OpenAPI document's operations are the list of routes (tests/deploy checks that it
names exactly the app's HTTP functions), so the methods of a path are read from there.
"""

from __future__ import annotations

from functools import lru_cache

from shared.openapi import OPERATIONS


@lru_cache(maxsize=1)
def _table() -> list[tuple[tuple[str, ...], frozenset[str]]]:
    methods: dict[tuple[str, ...], set[str]] = {}
    for op in OPERATIONS:
        segments = tuple(op.path.strip("/").lower().split("/"))
        methods.setdefault(segments, set()).add(op.method.upper())
    return [(segments, frozenset(found)) for segments, found in methods.items()]


def _matches(template: tuple[str, ...], parts: list[str]) -> bool:
    if len(template) != len(parts):
        return False
    return all((t.startswith("{") and bool(p)) or t == p.lower()
               for t, p in zip(template, parts, strict=True))


def allowed_methods(path: str) -> list[str] | None:
    """The methods of the route ``path`` belongs to (sorted), or None when it has none.
    A trailing slash is ignored, as the host ignores it."""
    parts = path.strip("/").split("/")
    for template, methods in _table():
        if _matches(template, parts):
            return sorted(methods)
    return None
