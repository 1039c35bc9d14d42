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
from devhost.blobqueue import BlobWebhook, blob_queue_runner
from devhost.blobs import BlobPath, BlobTriggerRunner, function_id
from devhost.config import HostConfig, is_disabled, resolve_settings
from devhost.eventgrid import WEBHOOK_PATH, EventGridOptions, EventGridSubscription
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
from devhost.metrics import Metrics, MetricsMiddleware
from devhost.queues import queue_trigger_runner
from devhost.storage import connection_string
from devhost.timers import TimerTriggerRunner

log = logging.getLogger("devhost")

# A runner that crashed (storage down, say) is started again after this delay.
RESTART_DELAY_SECONDS = 3.0


class Runner(Protocol):
    name: str

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
        # Where Event Grid reaches the host's webhook (set by serve()).
        self.url = "http://127.0.0.1:8089"
        # Prometheus metrics (PROMETHEUS_PORT): the address and port they are served on.
        self.metrics: Metrics | None = None
        self.metrics_address: tuple[str, int] | None = None
        self._webhook: BlobWebhook | None = None

    def of_type(self, trigger_type: str) -> list[FunctionSpec]:
        return [spec for spec in self.specs if spec.trigger_type == trigger_type]

    @property
    def event_grid_blob_functions(self) -> list[FunctionSpec]:
        return [spec for spec in self.of_type(BLOB)
                if str(spec.trigger.get("source", "")).lower() == "eventgrid"]

    def asgi_app(self) -> Router:
        """Every HTTP request goes to the dispatcher (no Starlette route, so no slash
        redirect); the router only runs the lifespan that starts the other triggers."""
        table = http.build_routes(self.of_type(HTTP), self.config.route_prefix)
        system = {}
        if self.event_grid_blob_functions:
            self._webhook = BlobWebhook(connection_string(None), self.config.queues)
            system[WEBHOOK_PATH] = self._webhook
        dispatcher = http.FunctionDispatcher(table, self.invoker, system)
        middleware = [Middleware(http.AccessLogMiddleware)]
        if self.metrics is not None:
            middleware.append(Middleware(MetricsMiddleware, metrics=self.metrics))
        return Router(routes=[], redirect_slashes=False, default=dispatcher,
                      lifespan=self._lifespan, middleware=middleware)

    def serve_metrics(self, bind: str, port: int) -> None:
        """Count the HTTP requests and serve the counts on ``port`` (Prometheus)."""
        self.metrics = Metrics()
        self.metrics_address = (bind, port)

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: object) -> AsyncIterator[None]:
        runners = self.build_runners()
        tasks = [asyncio.create_task(self._supervise(runner)) for runner in runners]
        try:
            with contextlib.ExitStack() as served:
                if self.metrics is not None and self.metrics_address is not None:
                    served.enter_context(self.metrics.served(*self.metrics_address))
                yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(runner.close() for runner in runners), return_exceptions=True)
            if self._webhook is not None:
                await self._webhook.close()

    def build_runners(self) -> list[Runner]:
        runners: list[Runner] = []
        if event_grid := self.event_grid_blob_functions:
            # The host's own blob queue, fed by the webhook, runs them all.
            runners.append(blob_queue_runner({function_id(s.name): s for s in event_grid},
                                             connection_string(None), self.config.queues,
                                             self.invoker))
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
            return queue_trigger_runner(
                spec, resolve_settings(str(trigger["queueName"])).lower(),
                connection_string(trigger.get("connection")), self.config.queues, self.invoker,
            )
        if spec.trigger_type == BLOB:
            path = BlobPath.parse(resolve_settings(str(trigger["path"])))
            data = connection_string(trigger.get("connection"))
            if spec in self.event_grid_blob_functions:
                return EventGridSubscription(spec.name, path, data, self.url,
                                             EventGridOptions.from_env())
            return BlobTriggerRunner(spec, path, data, self.config.queues, self.invoker)
        if spec.trigger_type == TIMER:
            return TimerTriggerRunner(spec, resolve_settings(str(trigger["schedule"])),
                                      self.invoker)
        log.warning("trigger type not supported by devhost",
                    extra={"fields": {"function": spec.name, "type": spec.trigger_type}})
        return None

    async def _supervise(self, runner: Runner) -> None:
        """Keep a runner going; storage down at start-up only delays it. The first crash of
        a streak is logged in full, the repeats are not."""
        fields = {"function": runner.name}
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
    reachable = "127.0.0.1" if bind in ("", "0.0.0.0", "::") else bind
    host.url = f"http://{reachable}:{port}"
    log.info("devhost serving", extra={"fields": {"url": f"http://{bind}:{port}",
                                                  "functions": len(host.specs)}})
    uvicorn.run(
        host.asgi_app(), host=bind, port=port, log_config=None, access_log=False,
        lifespan="on", timeout_graceful_shutdown=10,
        # The Functions host (Kestrel) keeps idle connections 130 s; uvicorn's 5 s equals
        # httpx's own keep-alive expiry, so a client reusing a connection as the server
        # drops it lost requests under load (ReadError).
        timeout_keep_alive=130,
    )
