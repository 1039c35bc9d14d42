"""The instance's ``AppContext``: built once from the settings on first use and passed to
every domain call. Rebuilt only if the settings object changes (tests that change the
environment clear ``get_settings``'s cache)."""

from __future__ import annotations

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
