"""The processing queues (Azure Queue Storage; Azurite locally), on the host's storage.

``Queues`` is what the domain sees; ``AzureQueues`` keeps one service client per event
loop and creates it on first use.
"""

from __future__ import annotations

import contextlib
import os
from typing import Protocol

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueServiceClient

from shared.aio import LoopLocal
from shared.settings import STORAGE_CLIENT_RETRIES, Settings, expand_connection_string


class Queues(Protocol):
    async def send(self, queue: str, message: str) -> None: ...

    async def pending(self, queue: str) -> int:
        """Approximate number of messages waiting."""
        ...

    async def ensure(self, queues: list[str]) -> None:
        """Create the queues that are missing (provisioning; idempotent)."""
        ...


class AzureQueues:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._services: LoopLocal[QueueServiceClient] = LoopLocal(self._open)

    async def _open(self) -> QueueServiceClient:
        settings = self._settings
        if settings.host_storage and "=" in settings.host_storage:
            return QueueServiceClient.from_connection_string(
                expand_connection_string(settings.host_storage), **STORAGE_CLIENT_RETRIES)
        from azure.identity.aio import DefaultAzureCredential

        # Identity-based host storage (AzureWebJobsStorage__queueServiceUri in Azure).
        url = os.environ.get("AzureWebJobsStorage__queueServiceUri") or (  # noqa: SIM112
            f"https://{settings.storage_account}.queue.core.windows.net")
        return QueueServiceClient(url, credential=DefaultAzureCredential(),
                                  **STORAGE_CLIENT_RETRIES)

    async def send(self, queue: str, message: str) -> None:
        # Base64, as queue triggers read messages (host.json's messageEncoding, the default).
        client = (await self._services.get()).get_queue_client(
            queue, message_encode_policy=TextBase64EncodePolicy())
        await client.send_message(message)

    async def pending(self, queue: str) -> int:
        client = (await self._services.get()).get_queue_client(queue)
        props = await client.get_queue_properties()
        return props.approximate_message_count or 0

    async def ensure(self, queues: list[str]) -> None:
        service = await self._services.get()
        for name in queues:
            with contextlib.suppress(ResourceExistsError):
                await service.create_queue(name)
