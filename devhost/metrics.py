"""Prometheus metrics of the devhost's HTTP requests, served on ``PROMETHEUS_PORT`` (the
spec's variable; unset or 0: not served). In Azure the same questions are answered by
Application Insights (shared/telemetry.py); this is the local equivalent.

- ``visiobook_http_requests_total{route,method,status}``: requests answered;
- ``visiobook_http_request_duration_seconds{route,method,status}``: their latency (until the
  last byte of the response);
- ``visiobook_http_requests_in_flight``: requests being served now;
- ``visiobook_upload_bytes_total{route}``: request body bytes received.

``route`` is the function's route template (``api/v1/storage/files/{file_id}``), never the
raw path, so the series stay few whatever clients send; ``unmatched`` when no route matched
(and ``method`` is ``OTHER`` for a method name outside HTTP's usual ones).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devhost.http import ROUTE_KEY

log = logging.getLogger("devhost.metrics")

UNMATCHED = "unmatched"
# Uploads of large files take minutes: buckets up to 10 minutes (host.json's timeout).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0,
           600.0)


class Metrics:
    """The devhost's instruments, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status")
        self.requests = Counter("visiobook_http_requests", "HTTP requests answered", labels,
                                registry=self.registry)
        self.latency = Histogram("visiobook_http_request_duration_seconds",
                                 "Time to answer an HTTP request (until its last byte)",
                                 labels, buckets=BUCKETS, registry=self.registry)
        self.in_flight = Gauge("visiobook_http_requests_in_flight",
                               "HTTP requests being served", registry=self.registry)
        self.upload_bytes = Counter("visiobook_upload_bytes", "Request body bytes received",
                                    ("route",), registry=self.registry)

    @contextmanager
    def served(self, bind: str, port: int) -> Iterator[None]:
        """The metrics endpoint (any path answers the exposition) while the host runs."""
        server, thread = start_http_server(port, addr=bind, registry=self.registry)
        log.info("prometheus metrics served",
                 extra={"fields": {"url": f"http://{bind}:{port}/metrics"}})
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    return str(scope.get(ROUTE_KEY) or UNMATCHED)


def method_label(scope: Scope) -> str:
    """A client may send any method name: those outside HTTP's usual ones count as OTHER."""
    method = str(scope["method"]).upper()
    return method if method in METHODS else "OTHER"


class MetricsMiddleware:
    """Counts every HTTP request the host answers (its own 404s included)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        started = time.perf_counter()
        status = [500]

        async def counted_receive() -> Message:
            message = await receive()
            body: Any = message.get("body") if message["type"] == "http.request" else None
            if body:
                metrics.upload_bytes.labels(route_label(scope)).inc(len(body))
            return message

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        metrics.in_flight.inc()
        try:
            await self.app(scope, counted_receive, send_with_status)
        finally:
            metrics.in_flight.dec()
            labels = (route_label(scope), method_label(scope), str(status[0]))
            metrics.requests.labels(*labels).inc()
            metrics.latency.labels(*labels).observe(time.perf_counter() - started)
