"""The checks every input passes: JSON nesting bounded in one linear pass, NUL found."""

from __future__ import annotations

import time

from shared.inputs import MAX_JSON_DEPTH, json_too_deep, nul_in


def test_nesting_past_the_bound_is_found() -> None:
    assert json_too_deep(b"[" * 60_000)
    assert json_too_deep(b'{"a":' * (MAX_JSON_DEPTH + 1))
    assert not json_too_deep(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert not json_too_deep(b'{"a": [[1], [2], {"b": {}}]}')


def test_brackets_in_strings_do_not_count() -> None:
    assert not json_too_deep(b'{"a": "' + b"[" * 1000 + b'"}')
    assert not json_too_deep(b'{"a": "\\"' + b"[" * 1000 + b'"}')
    assert json_too_deep(b'{"a": "\\\\"' + b"[" * 1000)


def test_depth_check_is_linear() -> None:
    started = time.perf_counter()
    json_too_deep(b'"' + b"\\\"[" * 30_000 + b'"')
    assert time.perf_counter() - started < 0.5


def test_nul_is_found_in_keys_values_and_lists() -> None:
    assert nul_in({"a": {"b": ["x", "y\x00"]}}) == "a.b.1"
    assert nul_in({"k\x00": 1}) == "k\x00"
    assert nul_in("\x00") == "value"
    assert nul_in({"a": 1, "b": [None, True, 2.5, "ok"]}) is None
