"""HTTP triggers served the way the Functions host serves them, handing the request to the
function as the HTTP streaming extension does.

Routing is ``devhost.routing`` (ASP.NET's rules). What the host itself answers has no body:
404 when no route and method match, 500 when a function raises or runs past
``functionTimeout`` (a response already streaming is cut off instead). The app's own error
bodies come from the app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devhost.functions import FunctionSpec, FunctionTimeoutError, Invoker
from devhost.routing import Route, RouteTable, RouteTemplate

log = logging.getLogger("devhost.http")
access_log = logging.getLogger("devhost.access")

# The scope key under which the dispatcher records what served a request: the route
# template, or the host endpoint's path (devhost.metrics labels requests with it).
ROUTE_KEY = "devhost.route"


def empty_response(status: int) -> Response:
    return Response(status_code=status)


def to_response(result: Any) -> Response:
    """What the function returned, as the HTTP streaming extension's web app sends it: a
    response as it is, ``None`` as FastAPI sends it (``null``). Anything else, the classic
    ``func.HttpResponse`` included, is refused: the extension cannot send it."""
    if isinstance(result, Response):
        return result
    if result is None:
        return JSONResponse(None)
    raise TypeError(f"an HTTP function returned {type(result).__name__}, which the HTTP "
                    "streaming extension cannot send (return a fastapi/starlette Response)")


def route_of(spec: FunctionSpec, prefix: str) -> Route[FunctionSpec]:
    """The route the host maps for an HTTP function: its ``route`` (or its name) under the
    prefix, constrained to its ``methods`` (all methods when it lists none)."""
    template = RouteTemplate.parse(str(spec.trigger.get("route") or spec.name), prefix)
    methods = frozenset(str(method).upper() for method in spec.trigger.get("methods") or [])
    return Route(template, methods or None, spec)


def build_routes(specs: Iterable[FunctionSpec], prefix: str) -> RouteTable[FunctionSpec]:
    table = RouteTable(route_of(spec, prefix) for spec in specs)
    keyed = 0
    for route in table.routes:
        level = str(route.target.trigger.get("authLevel") or "anonymous").lower()
        keyed += level != "anonymous"
        log.info("http function", extra={"fields": {
            "function": route.target.name, "route": route.template.text or "/",
            "methods": ",".join(sorted(route.methods or {"*"})), "auth_level": level}})
    if keyed:
        # As under `func start`: in Azure these need the function key (x-functions-key).
        log.info("function keys are not enforced locally",
                 extra={"fields": {"keyed_functions": keyed}})
    return table


class FunctionDispatcher:
    """The ASGI app for HTTP requests: the host's own endpoints (``system``, by exact path,
    case-insensitive), then the functions' routes."""

    def __init__(self, table: RouteTable[FunctionSpec], invoker: Invoker,
                 system: Mapping[str, ASGIApp] | None = None) -> None:
        self.table = table
        self.invoke = invoker
        self.system = {path.strip("/").lower(): app for path, app in (system or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        system = self.system.get(path.strip("/").lower())
        if system is not None:
            scope[ROUTE_KEY] = path.strip("/").lower()
            await system(scope, receive, send)
            return
        found = self.table.match(scope["method"], path)
        if found is None:
            await empty_response(404)(scope, receive, send)
            return
        route, values = found
        spec = route.target
        scope[ROUTE_KEY] = route.template.text or "/"
        scope["path_params"] = values
        try:
            result = await self.invoke(spec, {spec.arg_name: Request(scope, receive)})
            response = to_response(result)
        except FunctionTimeoutError:
            response = empty_response(500)  # logged by the invoker, as the host logs it
        except Exception:
            # The client sees the status only; the trace stays in the host's log.
            log.exception("function failed", extra={"fields": {"function": spec.name}})
            response = empty_response(500)
        await response(scope, receive, send)


class AccessLogMiddleware:
    """One line per HTTP request: method, path, status, duration in ms."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status[0],
                extra={"fields": {"method": scope["method"], "path": scope["path"],
                                  "status": status[0], "ms": round(elapsed, 1)}},
            )
