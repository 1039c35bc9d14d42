"""Create the container or bucket, the queues and the backup bucket the service uses
(``python -m shared.bootstrap``).

In Azure the Bicep templates create them; locally the stack and the tests run this.
Idempotent.
"""

from __future__ import annotations

import asyncio
import sys

from shared.aio import close_loop_resources
from shared.context import AppContext
from shared.settings import get_settings
from shared.wiring import build_context


async def provision(ctx: AppContext) -> None:
    settings = ctx.settings
    try:
        await ctx.stores.primary.ensure()
        await ctx.queues.ensure([settings.transform_queue, f"{settings.transform_queue}-poison"])
        if settings.backup_enabled:
            await ctx.backup.ensure()
    finally:
        await close_loop_resources()


def main() -> int:
    ctx = build_context(get_settings())
    asyncio.run(provision(ctx))
    print(f"storage provisioned: {ctx.stores.primary.name} primary, queues, backup bucket")
    return 0


if __name__ == "__main__":
    sys.exit(main())
