"""Connection strings of the storage a trigger names (``connection`` = an app-setting name)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from shared.settings import expand_connection_string

DEFAULT_CONNECTION = "AzureWebJobsStorage"

# Options of the clients the pollers use. The SDK's default retries back off for a minute
# and more, which would freeze a poller while storage is down; the pollers have their own
# back-off, so one quick retry is enough.
POLLER_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 1,
    "initial_backoff": 0.3,
    "increment_base": 2,
    "random_jitter_range": 0.1,
    "connection_timeout": 5,
}


def connection_string(setting: str | None, env: Mapping[str, str] | None = None) -> str:
    """The host looks the setting up as-is, then with the ``AzureWebJobs`` prefix."""
    source = os.environ if env is None else env
    name = setting or DEFAULT_CONNECTION
    for key in (name, f"AzureWebJobs{name}"):
        value = source.get(key)
        if value:
            return expand_connection_string(value)
    raise LookupError(f"storage connection setting {name!r} is not defined")
