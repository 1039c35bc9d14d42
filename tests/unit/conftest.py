"""Unit-test fixtures: settings built from a controlled environment only."""

from __future__ import annotations

import os

import pytest
from pydantic import AliasChoices

from shared.settings import Settings


def documented_setting_names() -> set[str]:
    """Every environment name ``Settings`` reads."""
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
    return names


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting of the machine leaks in (names are matched case-insensitively)."""
    lowered = {name.lower() for name in documented_setting_names()}
    for name in list(os.environ):
        if name.lower() in lowered:
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def anyio_backend() -> str:
    """Async unit tests run on asyncio (the Functions worker's loop)."""
    return "asyncio"
