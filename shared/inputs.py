"""Checks every client input passes before it is parsed further or reaches the database.

- ``json_too_deep``: a JSON text nested deeper than a bound (``[`` 60,000 times would
  exhaust the parser's recursion: a 500). One linear pass over the bytes, no parsing.
- ``nul_in``: where a NUL character hides in a parsed value (PostgreSQL's text and jsonb
  refuse U+0000, and an unchecked one answers 500 from the database).
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 32

_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


def json_too_deep(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether the arrays and objects of this JSON text nest deeper than ``max_depth``
    (brackets inside strings do not count; the text need not be valid JSON)."""
    if not (_OPEN & set(raw)):
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
            if depth > max_depth:
                return True
        elif byte in _CLOSE:
            depth -= 1
    return False


def nul_in(value: Any, path: str = "") -> str | None:
    """The path (``metadata.tags.0``) of the first string or key holding U+0000, or None.
    The value is parsed JSON or query values (nesting already bounded)."""
    if isinstance(value, str):
        return (path or "value") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return where
            found = nul_in(item, where)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_in(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None
