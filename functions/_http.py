"""What every HTTP function shares: errors in the specification's body, auth, parsing.

This is the edge: it knows the request/response types of the Functions HTTP streaming
extension (FastAPI/Starlette); the domain in ``shared`` never does.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import azure.functions as func
from azure.core.exceptions import AzureError
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response
from botocore.exceptions import BotoCoreError
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ValidationError

from functions._context import app_context
from shared.aio import idle_bounded
from shared.auth import Principal, authenticate
from shared.errors import (
    ApiError,
    BadRequest,
    ServiceUnavailable,
    StorageBackendError,
    Unprocessable,
    UploadIdleTimeout,
    ValidationFailed,
)
from shared.inputs import MAX_JSON_DEPTH, json_too_deep, nul_in

log = logging.getLogger("functions.http")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]
MAX_JSON_BODY = 64 * 1024

# Every HTTP route requires the function key (header x-functions-key), so that the app's own
# host name never bypasses API Management (its backend sends the key, a Key Vault named
# value: infra/bicep/postdeploy.bicep). No route is exempt, route by route:
# - the API (files, upload, resumable, tus, download/stream, cdn, admin, openapi.json): the
#   clients, browsers using tus included, call API Management, which validates their token;
# - the CDN origin (/files, /thumbnails, /previews): Front Door's origin is API Management's
#   gateway (modules/frontdoor.bicep), not the app, so it gets the key from there too;
# - /health: monitors probe it through the gateway; Flex Consumption has no App Service
#   health check that would call the app directly.
# Locally (`func start` and the devhost alike) function keys are not enforced.
KEYED = func.AuthLevel.FUNCTION


def request_id(req: Request) -> str:
    incoming = req.headers.get("x-request-id", "").strip()
    return incoming[:128] if incoming else f"req_{uuid.uuid4().hex}"


def error_response(error: ApiError, rid: str) -> JSONResponse:
    return JSONResponse(error.body(rid), status_code=error.status,
                        headers={**error.headers, "X-Request-ID": rid})


def _as_api_error(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, OperationalError | PoolTimeout):
        # Down, restarting or every connection busy: the client may retry shortly.
        return ServiceUnavailable("Database unavailable", headers={"Retry-After": "5"})
    if isinstance(exc, AzureError | BotoCoreError):
        return StorageBackendError()
    return ApiError()


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler: ApiErrors become the spec's error body, nothing else leaks."""

    @functools.wraps(handler)
    async def wrapper(req: Request) -> Response:
        rid = request_id(req)
        req.state.request_id = rid
        try:
            response = await handler(req)
        except Exception as exc:
            error = _as_api_error(exc)
            if error.status >= 500:
                log.exception("request %s failed: %s %s", rid, req.method, req.url.path)
            return error_response(error, rid)
        response.headers.setdefault("X-Request-ID", rid)
        return response

    return wrapper


async def principal_of(req: Request) -> Principal:
    return await authenticate(req.headers.get("authorization"), app_context().settings)


async def optional_principal(req: Request) -> Principal | None:
    """None when no credentials were sent; a bad token is still refused."""
    return await principal_of(req) if req.headers.get("authorization") else None


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]


def _refuse_nul(value: Any, error: type[ApiError]) -> None:
    where = nul_in(value)
    if where is not None:
        raise error("Text may not contain NUL characters", details={"errors": [
            {"field": where, "message": "NUL (U+0000) is not allowed"}]})


def query_model(req: Request, model: type[M]) -> M:
    params = dict(req.query_params)
    _refuse_nul(params, ValidationFailed)
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise ValidationFailed("Invalid query parameters",
                                    details={"errors": _errors(exc)}) from exc


def _too_large(max_bytes: int) -> ApiError:
    # The rest of the body is not read: the connection cannot be reused.
    return BadRequest("Request body too large", details={"max_bytes": max_bytes},
                      headers={"Connection": "close"})


async def read_limited(req: Request, max_bytes: int) -> bytes:
    """The request body, read chunk by chunk and abandoned as soon as it passes
    ``max_bytes`` (a declared Content-Length past it is refused before reading)."""
    declared = req.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    raw = bytearray()
    async for chunk in req.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(raw)


async def body_model(req: Request, model: type[M], *, max_bytes: int = MAX_JSON_BODY) -> M:
    """A JSON body: bounded in size (read no further than the bound) and in nesting, no NUL
    in any text, then validated by ``model`` from the JSON text (strict fields stay strict:
    ``"yes"`` is not a boolean, ``0`` not a date). An empty body is ``{}``."""
    raw = await read_limited(req, max_bytes)
    if not raw.strip():
        raw = b"{}"
    if json_too_deep(raw):
        raise BadRequest("Request body nests too deeply",
                         details={"max_depth": MAX_JSON_DEPTH})
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    _refuse_nul(data, Unprocessable)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise Unprocessable("Invalid request body", details={"errors": _errors(exc)}) from exc


def upload_body(req: Request) -> AsyncIterator[bytes]:
    """An upload's body, ended with 408 ``UPLOAD_TIMEOUT`` when no bytes arrive for
    ``UPLOAD_IDLE_TIMEOUT_SECONDS`` (the connection is then closed)."""
    seconds = app_context().settings.upload_idle_timeout_seconds
    return idle_bounded(req.stream(), seconds, lambda: UploadIdleTimeout(
        f"No bytes arrived for {seconds:g} s", details={"idle_timeout_seconds": seconds},
        headers={"Connection": "close"}))


# After a refused upload, the rest of its body is read and dropped, up to this much, so that
# clients that send the whole body before reading the answer still see the error; past it
# (or after a stall) the connection is closed instead.
DRAIN_LIMIT = 4 * 1024**2


async def _drained(body: AsyncIterator[bytes], limit: int) -> bool:
    """Whether the body ended within ``limit`` more bytes."""
    seen = 0
    try:
        async for chunk in body:
            seen += len(chunk)
            if seen > limit:
                return False
    except Exception:  # the client went away or stalled; nothing left to read
        return False
    return True


async def after_refusal(req: Request, body: AsyncIterator[bytes], error: ApiError) -> None:
    """Drain a refused upload's body (at most ``DRAIN_LIMIT``), or have the connection
    closed after the answer when it cannot be drained."""
    if isinstance(error, UploadIdleTimeout) \
            or req.headers.get("expect", "").lower() == "100-continue" \
            or not await _drained(body, DRAIN_LIMIT):
        error.headers["Connection"] = "close"


def json_response(model: BaseModel | dict, status: int = 200,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    content = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return JSONResponse(content, status_code=status, headers=headers)
