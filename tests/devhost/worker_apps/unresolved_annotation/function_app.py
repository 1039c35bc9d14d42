"""Refused by the worker: an annotation that does not resolve (a string, under PEP 563, naming
nothing the module defines)."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
def tick(timer: func.TimerRequst) -> None:  # the typo is the point
    return None
