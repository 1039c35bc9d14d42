"""HTTP triggers served by Starlette, as the HTTP-streaming extension hands them requests."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from devhost.functions import FunctionSpec, invoke

log = logging.getLogger("devhost.http")
access_log = logging.getLogger("devhost.access")

_PARAM = re.compile(r"\{([^{}]+)\}")
_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    500: "INTERNAL_ERROR",
}


def request_id_of(request: Request) -> str:
    """``X-Request-ID`` when the client sent one, else a fresh id (kept for the whole request)."""
    cached = request.scope.get("devhost.request_id")
    if cached:
        return str(cached)
    value = request.headers.get("x-request-id") or str(uuid.uuid4())
    request.scope["devhost.request_id"] = value
    return value


def error_response(request: Request, status: int, message: str,
                   code: str | None = None) -> Response:
    """The API's error body: {"error": {code, message, details, timestamp, request_id}}."""
    request_id = request_id_of(request)
    body = {
        "error": {
            "code": code or _ERROR_CODES.get(status, "ERROR"),
            "message": message,
            "details": {},
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "request_id": request_id,
        }
    }
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": request_id})


def starlette_path(route: str, prefix: str) -> str:
    """Azure route template -> Starlette path.

    ``{id:guid}`` / ``{id?}`` lose their constraint, ``{*rest}`` becomes ``{rest:path}``.
    """

    def _convert(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("*"):
            return "{" + inner.lstrip("*").split(":")[0] + ":path}"
        name = inner.split(":")[0].split("=")[0].rstrip("?")
        return "{" + name + "}"

    parts = [part.strip("/") for part in (prefix, _PARAM.sub(_convert, route)) if part.strip("/")]
    return "/" + "/".join(parts)


def _specificity(path: str) -> tuple[int, ...]:
    """Sort key putting literal segments before parameters and catch-alls last, as ASP.NET
    routing does (``files/search`` must win over ``files/{file_id}``)."""
    ranks = []
    for segment in path.strip("/").split("/"):
        if ":path}" in segment:
            ranks.append(3)
        elif segment.startswith("{") and segment.endswith("}"):
            ranks.append(2)
        elif "{" in segment:
            ranks.append(1)
        else:
            ranks.append(0)
    return tuple(ranks)


def to_response(result: Any) -> Response:
    """What the function returned -> a Starlette response (HttpResponse is converted)."""
    if isinstance(result, Response):
        return result
    if isinstance(result, func.HttpResponse):
        headers = {name: value for name, value in result.headers.items()
                   if name.lower() != "content-type"}
        content_type = next((value for name, value in result.headers.items()
                             if name.lower() == "content-type"), None)
        if content_type is None and result.mimetype:
            content_type = f"{result.mimetype}; charset={result.charset}"
        response = Response(result.get_body(), status_code=result.status_code, headers=headers)
        if content_type:
            response.headers["content-type"] = content_type
        return response
    if result is None:
        return Response(status_code=204)
    raise TypeError(f"an HTTP function returned {type(result).__name__}, not a response")


def make_endpoint(spec: FunctionSpec, root: Path):
    async def endpoint(request: Request) -> Response:
        try:
            return to_response(await invoke(spec, {spec.arg_name: request}, root))
        except Exception:
            # The client sees the error body only; the trace stays in the host's log.
            log.exception(
                "function failed",
                extra={"fields": {"function": spec.name, "request_id": request_id_of(request)}},
            )
            return error_response(request, 500, "An internal error occurred.")

    endpoint.__name__ = spec.name
    return endpoint


def build_routes(specs: Iterable[FunctionSpec], prefix: str, root: Path) -> list[BaseRoute]:
    entries = []
    for spec in specs:
        path = starlette_path(str(spec.trigger.get("route") or spec.name), prefix)
        methods = [str(method).upper() for method in spec.trigger.get("methods") or []] or None
        entries.append((path, Route(path, make_endpoint(spec, root), methods=methods)))
        log.info(
            "http function",
            extra={"fields": {"function": spec.name, "path": path,
                              "methods": ",".join(methods or ["*"])}},
        )
    entries.sort(key=lambda entry: _specificity(entry[0]))
    return [route for _, route in entries]


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No route matches {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = str(exc.detail)
    response = error_response(request, exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def unhandled_exception_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", exc_info=exc)
    return error_response(request, 500, "An internal error occurred.")


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
