"""Create the containers, queues and bucket the service uses (``python -m shared.bootstrap``).

In Azure the Bicep templates create them; locally the stack and the tests run this.
Idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue.aio import QueueServiceClient

from shared.aio import close_loop_resources
from shared.settings import expand_connection_string, get_settings
from shared.storage import backup_store, primary_store


async def _ensure_queues(names: list[str]) -> None:
    conn = expand_connection_string(get_settings().host_storage)
    async with QueueServiceClient.from_connection_string(conn) as service:
        for name in names:
            with contextlib.suppress(ResourceExistsError):
                await service.create_queue(name)


async def provision() -> None:
    settings = get_settings()
    try:
        await primary_store().ensure_container()
        await _ensure_queues([settings.transform_queue, f"{settings.transform_queue}-poison"])
        if settings.backup_enabled:
            await backup_store().ensure_bucket()
    finally:
        await close_loop_resources()


def main() -> int:
    asyncio.run(provision())
    print("storage provisioned: container, queues, backup bucket")
    return 0


if __name__ == "__main__":
    sys.exit(main())
