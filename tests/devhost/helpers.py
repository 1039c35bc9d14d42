"""Shared by the devhost tests and their fixtures."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from azure.storage.queue import QueueClient

HERE = Path(__file__).resolve().parent
SAMPLE_APP = "tests.devhost.sample_app:app"
SAMPLE_HOST_JSON = HERE / "host.json"
SAMPLE_QUEUE = "sample-work"
SAMPLE_CONTAINER = "sample-files"
# The sample host.json's queue settings.
VISIBILITY_TIMEOUT = 2.0
MAX_DEQUEUE_COUNT = 3

T = TypeVar("T")


def wait_until(probe: Callable[[], T], what: str, timeout: float = 15.0,
               interval: float = 0.05) -> T:
    """The first truthy value of ``probe()``, polled until ``timeout`` (the condition itself is
    waited for, never a fixed time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def decoded_contents(queue: QueueClient) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(message.content))
            for message in queue.peek_messages(max_messages=32)]


def wait_until_deleted(queue: QueueClient) -> None:
    """Until no message is left in the queue, invisible ones included (a message the host
    meant to retry would still be counted): one deleted can never come back."""
    wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0,
               f"queue {queue.queue_name} to be empty")


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
        found: list[dict[str, Any]] = []

        def probe() -> bool:
            found[:] = self.all(kind, **match)
            return condition(found)

        try:
            wait_until(probe, f"{kind} records {match}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: got {found}") from None
        return list(found)
