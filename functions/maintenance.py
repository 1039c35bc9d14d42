"""Lifecycle maintenance on a schedule (``LIFECYCLE_SCHEDULE``, NCRONTAB, every 5 min)."""

from __future__ import annotations

import azure.functions as func

from functions._context import app_context
from shared.lifecycle import run_maintenance

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%LIFECYCLE_SCHEDULE%", run_on_startup=False)
async def lifecycle_maintenance(timer: func.TimerRequest) -> None:
    await run_maintenance(app_context())
