"""In-memory ``Queues``: messages kept per queue name, in order."""

from __future__ import annotations

from collections import defaultdict


class MemoryQueues:
    def __init__(self) -> None:
        self.messages: defaultdict[str, list[str]] = defaultdict(list)
        self.created: set[str] = set()

    async def send(self, queue: str, message: str) -> None:
        self.messages[queue].append(message)

    async def pending(self, queue: str) -> int:
        return len(self.messages[queue])

    async def ensure(self, queues: list[str]) -> None:
        self.created.update(queues)
