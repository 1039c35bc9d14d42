"""The processing queues (Azure Queue Storage; Azurite locally), on the host's storage."""

from __future__ import annotations

import os

from azure.storage.queue.aio import QueueClient, QueueServiceClient

from shared.aio import LoopLocal
from shared.settings import expand_connection_string, get_settings


async def _open() -> QueueServiceClient:
    settings = get_settings()
    if settings.host_storage and "=" in settings.host_storage:
        return QueueServiceClient.from_connection_string(
            expand_connection_string(settings.host_storage)
        )
    from azure.identity.aio import DefaultAzureCredential

    # Identity-based host storage (AzureWebJobsStorage__queueServiceUri in Azure).
    url = os.environ.get("AzureWebJobsStorage__queueServiceUri") or (  # noqa: SIM112
        f"https://{settings.storage_account}.queue.core.windows.net"
    )
    return QueueServiceClient(url, credential=DefaultAzureCredential())


_services: LoopLocal[QueueServiceClient] = LoopLocal(_open)


async def queue(name: str) -> QueueClient:
    return (await _services.get()).get_queue_client(name)


async def pending_messages(name: str) -> int:
    props = await (await queue(name)).get_queue_properties()
    return props.approximate_message_count or 0

