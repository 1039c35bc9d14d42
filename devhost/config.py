"""host.json, local.settings.json and app-setting expressions, read the way the real host does."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SETTING_EXPR = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


class SettingNotFoundError(LookupError):
    """A ``%NAME%`` expression names an app setting that is not defined."""


def read_local_settings(path: Path) -> dict[str, str]:
    """The ``Values`` of a local.settings.json, as strings (the host stringifies them too)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    values = data.get("Values") or {}
    return {str(key): _as_setting(value) for key, value in values.items()}


def apply_host_environment(env: MutableMapping[str, str] | None = None) -> None:
    """What `func start` sets for the app: it runs in the Development environment unless
    the environment says otherwise."""
    target = os.environ if env is None else env
    target.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")


def apply_local_settings(path: Path) -> dict[str, str]:
    """Copy local.settings.json into os.environ; the process environment wins, as with `func`.

    Returns the values that were actually applied.
    """
    applied = {}
    for key, value in read_local_settings(path).items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def _as_setting(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def resolve_settings(text: str, env: Mapping[str, str] | None = None) -> str:
    """Replace every ``%NAME%`` by the app setting NAME (the host's binding-expression rule)."""
    source = os.environ if env is None else env

    def _lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise SettingNotFoundError(f"'%{name}%' does not resolve to an app setting")
        return source[name]

    return _SETTING_EXPR.sub(_lookup, text)


def parse_timespan(value: str | int | float) -> float:
    """'00:00:02' / '1.00:00:00' / '00:00:00.500' -> seconds (.NET TimeSpan, as in host.json)."""
    if isinstance(value, int | float):
        return float(value)
    match = _TIMESPAN.match(value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds, fraction = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def format_timespan(seconds: float) -> str:
    """Seconds -> .NET TimeSpan text as the host logs it: '00:10:00', '1.00:00:01',
    '00:00:00.5000000'."""
    ticks = round(seconds * 10_000_000)
    days, rest = divmod(ticks, 86400 * 10_000_000)
    hours, rest = divmod(rest, 3600 * 10_000_000)
    minutes, rest = divmod(rest, 60 * 10_000_000)
    whole, fraction = divmod(rest, 10_000_000)
    text = f"{hours:02d}:{minutes:02d}:{whole:02d}" + (f".{fraction:07d}" if fraction else "")
    return f"{days}.{text}" if days else text


def is_timespan(value: str) -> bool:
    return bool(_TIMESPAN.match(value.strip()))


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` of host.json; defaults are the real host's."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QueueOptions:
        batch_size = min(int(data.get("batchSize", cls.batch_size)), 32)
        return cls(
            batch_size=batch_size,
            # The host's default threshold is half the batch size.
            new_batch_threshold=int(data.get("newBatchThreshold", batch_size // 2)),
            max_polling_interval=parse_timespan(data.get("maxPollingInterval", 60.0)),
            visibility_timeout=parse_timespan(data.get("visibilityTimeout", 0.0)),
            max_dequeue_count=int(data.get("maxDequeueCount", cls.max_dequeue_count)),
            message_encoding=str(data.get("messageEncoding", cls.message_encoding)).lower(),
        )


# Flex Consumption's default functionTimeout (the plan the app deploys to); "-1" in host.json
# means no limit, as on plans that allow one.
DEFAULT_FUNCTION_TIMEOUT = 30 * 60.0


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = field(default_factory=QueueOptions)
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT

    @classmethod
    def load(cls, path: Path | None) -> HostConfig:
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        extensions = data.get("extensions") or {}
        http = extensions.get("http") or {}
        timeout = data.get("functionTimeout")
        return cls(
            route_prefix=str(http.get("routePrefix", "api")),
            queues=QueueOptions.from_json(extensions.get("queues") or {}),
            function_timeout=(DEFAULT_FUNCTION_TIMEOUT if timeout is None
                              else None if str(timeout).strip() == "-1"
                              else parse_timespan(timeout)),
        )


def is_disabled(function_name: str, env: Mapping[str, str] | None = None) -> bool:
    """The host's own switch: app setting ``AzureWebJobs.<name>.Disabled`` = true/1.

    Linux hosts spell it ``AzureWebJobs__<name>__Disabled``; both are honoured.
    """
    source = os.environ if env is None else env
    keys = (f"AzureWebJobs.{function_name}.Disabled", f"AzureWebJobs__{function_name}__Disabled")
    return any(source.get(key, "").strip().lower() in {"1", "true"} for key in keys)
