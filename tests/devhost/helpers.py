"""Shared by the devhost tests and their fixtures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SAMPLE_APP = "tests.devhost.sample_app:app"
SAMPLE_HOST_JSON = HERE / "host.json"
SAMPLE_QUEUE = "sample-work"
SAMPLE_CONTAINER = "sample-files"


class Records:
    """What the sample app's functions wrote, one dict per invocation."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self, kind: str | None = None, **match: Any) -> list[dict[str, Any]]:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [
            entry for entry in entries
            if (kind is None or entry["kind"] == kind)
            and all(entry.get(key) == value for key, value in match.items())
        ]

    def wait_for(self, condition: Callable[[list[dict[str, Any]]], bool], kind: str,
                 timeout: float = 15.0, **match: Any) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            entries = self.all(kind, **match)
            if condition(entries):
                return entries
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {kind} {match}: got {entries}")
            time.sleep(0.1)
