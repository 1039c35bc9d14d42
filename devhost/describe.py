"""What the devhost serves of each function, in the form ``devhost.worker_index`` gives for
the real worker's index, so that the two compare as plain data: the trigger, and per kind the
route (without host.json's prefix, which the worker does not know), methods and route
parameters as the devhost's router has them; the queue; the blob path and source; the timer's
schedule. Setting expressions (``%NAME%``) stay unresolved on both sides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devhost.functions import BLOB, HTTP, QUEUE, TIMER, FunctionSpec
from devhost.http import route_of


def auth_level(trigger: Mapping[str, Any]) -> str | None:
    """The HTTP trigger's authLevel, recorded but not enforced: like `func start` (Core
    Tools), the devhost takes requests without the function key."""
    level = str(trigger.get("authLevel") or "").strip().lower()
    return level or None


def describe(spec: FunctionSpec) -> dict[str, Any]:
    trigger = spec.trigger
    described: dict[str, Any] = {"trigger": spec.trigger_type}
    if spec.trigger_type == HTTP:
        route = route_of(spec, prefix="")
        described.update(route=route.template.text,
                         route_params=sorted(route.template.parameters),
                         methods=sorted(route.methods) if route.methods else None,
                         auth_level=auth_level(trigger))
    elif spec.trigger_type == QUEUE:
        described.update(queue=trigger["queueName"], connection=trigger.get("connection"))
    elif spec.trigger_type == BLOB:
        described.update(path=trigger["path"], connection=trigger.get("connection"),
                         source=trigger.get("source") or "LogsAndContainerScan")
    elif spec.trigger_type == TIMER:
        described.update(schedule=trigger["schedule"],
                         run_on_startup=bool(trigger.get("runOnStartup")))
    return described
