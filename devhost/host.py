"""The host: index the app once, serve its HTTP functions and run its other triggers in the
same event loop (started and stopped by the ASGI lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import uvicorn
from starlette.middleware import Middleware
from starlette.routing import Router

from devhost import http
from devhost.blobs import BlobPath, BlobTriggerRunner
from devhost.config import HostConfig, is_disabled, resolve_settings
from devhost.functions import (
    BLOB,
    HTTP,
    QUEUE,
    TIMER,
    FunctionSpec,
    Invoker,
    index_functions,
    load_app,
)
from devhost.queues import QueueTriggerRunner
from devhost.storage import connection_string
from devhost.timers import TimerTriggerRunner

log = logging.getLogger("devhost")

# A runner that crashed (storage down, say) is started again after this delay.
RESTART_DELAY_SECONDS = 3.0


class Runner(Protocol):
    spec: FunctionSpec

    async def run(self) -> None: ...

    async def close(self, grace: float = 5.0) -> None: ...


class DevHost:
    def __init__(self, app_ref: str = "function_app:app", root: Path | None = None,
                 host_json: Path | None = None) -> None:
        self.root = (root or Path.cwd()).resolve()
        self.config = HostConfig.load(host_json or self.root / "host.json")
        self.invoker = Invoker(self.root, self.config.function_timeout)
        specs = index_functions(load_app(app_ref, self.root))
        for spec in specs:
            if is_disabled(spec.name):
                log.info("function disabled", extra={"fields": {"function": spec.name}})
        self.specs = [spec for spec in specs if not is_disabled(spec.name)]

    def of_type(self, trigger_type: str) -> list[FunctionSpec]:
        return [spec for spec in self.specs if spec.trigger_type == trigger_type]

    def asgi_app(self) -> Router:
        """Every HTTP request goes to the dispatcher (no Starlette route, so no slash
        redirect); the router only runs the lifespan that starts the other triggers."""
        table = http.build_routes(self.of_type(HTTP), self.config.route_prefix)
        dispatcher = http.FunctionDispatcher(table, self.invoker)
        return Router(routes=[], redirect_slashes=False, default=dispatcher,
                      lifespan=self._lifespan, middleware=[Middleware(http.AccessLogMiddleware)])

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: object) -> AsyncIterator[None]:
        runners = self.build_runners()
        tasks = [asyncio.create_task(self._supervise(runner)) for runner in runners]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(runner.close() for runner in runners), return_exceptions=True)

    def build_runners(self) -> list[Runner]:
        runners: list[Runner] = []
        for spec in self.specs:
            if spec.trigger_type == HTTP:
                continue
            try:
                runner = self._runner_for(spec)
            except Exception as exc:  # the real host also refuses just that function
                log.error("function not started: %s", exc,
                          extra={"fields": {"function": spec.name}})
                continue
            if runner is not None:
                runners.append(runner)
        return runners

    def _runner_for(self, spec: FunctionSpec) -> Runner | None:
        trigger = spec.trigger
        if spec.trigger_type == QUEUE:
            return QueueTriggerRunner(
                spec, resolve_settings(str(trigger["queueName"])).lower(),
                connection_string(trigger.get("connection")), self.config.queues, self.invoker,
            )
        if spec.trigger_type == BLOB:
            return BlobTriggerRunner(
                spec, BlobPath.parse(resolve_settings(str(trigger["path"]))),
                connection_string(trigger.get("connection")), self.config.queues, self.invoker,
            )
        if spec.trigger_type == TIMER:
            return TimerTriggerRunner(spec, resolve_settings(str(trigger["schedule"])),
                                      self.invoker)
        log.warning("trigger type not supported by devhost",
                    extra={"fields": {"function": spec.name, "type": spec.trigger_type}})
        return None

    async def _supervise(self, runner: Runner) -> None:
        """Keep a runner going; storage down at start-up only delays it. The first crash of
        a streak is logged in full, the repeats are not."""
        fields = {"function": runner.spec.name}
        quiet = False
        while True:
            started = time.monotonic()
            try:
                await runner.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if time.monotonic() - started > 10 * RESTART_DELAY_SECONDS:
                    quiet = False  # it had been running: a new streak
                if not quiet:
                    log.exception("trigger runner crashed; retrying every %ss",
                                  RESTART_DELAY_SECONDS, extra={"fields": fields})
                    quiet = True
                else:
                    log.debug("trigger runner still failing: %s", exc, extra={"fields": fields})
                await asyncio.sleep(RESTART_DELAY_SECONDS)


def serve(host: DevHost, bind: str = "127.0.0.1", port: int = 8089) -> None:
    log.info("devhost serving", extra={"fields": {"url": f"http://{bind}:{port}",
                                                  "functions": len(host.specs)}})
    uvicorn.run(
        host.asgi_app(), host=bind, port=port, log_config=None, access_log=False,
        lifespan="on", timeout_graceful_shutdown=10,
    )
