"""What every HTTP function shares: errors in the specification's body, auth, parsing.

This is the edge: it knows the request/response types of the Functions HTTP streaming
extension (FastAPI/Starlette); the domain in ``shared`` never does.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import azure.functions as func
from azure.core.exceptions import AzureError
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response
from botocore.exceptions import BotoCoreError
from psycopg import OperationalError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ValidationError

from functions._context import app_context
from shared.auth import Principal, authenticate
from shared.errors import (
    ApiError,
    BadRequest,
    ServiceUnavailable,
    StorageBackendError,
    Unprocessable,
    ValidationFailed,
)

log = logging.getLogger("functions.http")
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]

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


def query_model(req: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(req.query_params))
    except ValidationError as exc:
        raise ValidationFailed("Invalid query parameters",
                                    details={"errors": _errors(exc)}) from exc


async def body_model(req: Request, model: type[M], *, max_bytes: int = 64 * 1024) -> M:
    raw = await req.body()
    if len(raw) > max_bytes:
        raise BadRequest("Request body too large", details={"max_bytes": max_bytes})
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Unprocessable("Invalid request body", details={"errors": _errors(exc)}) from exc


def json_response(model: BaseModel | dict, status: int = 200,
                  headers: dict[str, str] | None = None) -> JSONResponse:
    content = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return JSONResponse(content, status_code=status, headers=headers)
