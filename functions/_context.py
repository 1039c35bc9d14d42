"""The instance's ``AppContext``: built once from the settings on first use and passed to
every domain call. Rebuilt only if the settings object changes (tests that change the
environment clear ``get_settings``'s cache)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.context import AppContext
from shared.settings import get_settings
from shared.wiring import build_context

_built: AppContext | None = None


def app_context() -> AppContext:
    global _built
    settings = get_settings()
    if _built is None or _built.settings is not settings:
        _built = build_context(settings)
    return _built


@contextmanager
def overridden(**parts: Any) -> Iterator[AppContext]:
    """Inside the block, the instance's context with these parts replaced (a clock that an
    integration test moves forward, a CDN provider that is down): how a test calls the
    registered function objects in-process under conditions it controls."""
    global _built
    saved = app_context()
    _built = dataclasses.replace(saved, **parts)
    try:
        yield _built
    finally:
        _built = saved
