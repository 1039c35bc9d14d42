"""Contract tests: the same assertions against every implementation of an interface, the
in-memory one and the real ones (through the session's local stack, started only when a
real backend's test runs)."""

from __future__ import annotations

import pytest

from shared.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stack_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                   ) -> Settings:
    """Settings pointing at the session's stack; boto3 reads its credentials from the
    process environment, so those are set there too."""
    env: dict[str, str] = request.getfixturevalue("stack_env")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    return Settings.model_validate(env)
