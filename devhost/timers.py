"""Timer triggers on NCRONTAB (``sec min hour day month dow``, UTC like the host) or TimeSpan
schedules. A failing run is logged and the schedule goes on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter

from devhost.config import is_timespan, parse_timespan
from devhost.functions import FunctionSpec, Invoker

log = logging.getLogger("devhost.timer")

# A run that starts this late after its scheduled time is reported as past due.
PAST_DUE_AFTER = timedelta(seconds=5)


def schedule_iterator(schedule: str, start: datetime) -> Callable[[], datetime]:
    """A function returning each next occurrence after ``start`` (UTC)."""
    if is_timespan(schedule):
        interval = timedelta(seconds=parse_timespan(schedule))
        if interval <= timedelta(0):
            raise ValueError(f"timer interval must be positive: {schedule!r}")
        state = {"at": start}

        def next_interval() -> datetime:
            state["at"] += interval
            return state["at"]

        return next_interval
    fields = schedule.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB needs 6 fields (sec min hour day month dow): {schedule!r}")
    cron = croniter(" ".join(fields), start, second_at_beginning=True)
    return lambda: cron.get_next(datetime)


class TimerTriggerRunner:
    def __init__(self, spec: FunctionSpec, schedule: str, invoke: Invoker) -> None:
        self.spec = spec
        self.name = spec.name
        self.invoke = invoke
        self.schedule = schedule
        self.run_on_startup = bool(spec.trigger.get("runOnStartup"))
        # Validate now so a bad schedule fails at start-up, not at the first tick.
        schedule_iterator(schedule, datetime.now(UTC))

    async def run(self) -> None:
        fields = {"function": self.spec.name, "schedule": self.schedule}
        log.info("timer scheduled", extra={"fields": fields})
        if self.run_on_startup:
            await self._fire(past_due=False)
        next_run = schedule_iterator(self.schedule, datetime.now(UTC))
        while True:
            due = next_run()
            now = datetime.now(UTC)
            if due > now:
                await asyncio.sleep((due - now).total_seconds())
            late = datetime.now(UTC) - due
            await self._fire(past_due=late > PAST_DUE_AFTER)
            # After a long run, skip the occurrences already missed (as the host does).
            while (upcoming := next_run()) <= datetime.now(UTC):
                pass
            next_run = _starting_with(upcoming, next_run)

    async def close(self, grace: float = 5.0) -> None:
        return None

    async def _fire(self, past_due: bool) -> None:
        fields = {"function": self.spec.name, "past_due": past_due}
        request = TimerRequest(past_due=past_due)
        try:
            await self.invoke(self.spec, {self.spec.arg_name: request})
        except Exception:
            log.exception("timer function failed", extra={"fields": fields})
            return
        log.info("timer function succeeded", extra={"fields": fields})


def _starting_with(first: datetime, rest: Callable[[], datetime]) -> Callable[[], datetime]:
    """Put one already-computed occurrence back in front of an iterator."""
    pending = [first]

    def next_occurrence() -> datetime:
        return pending.pop() if pending else rest()

    return next_occurrence
