"""tus 1.0 at /api/v1/storage/upload/tus (+ /{upload_id}): creation (with upload), HEAD,
PATCH, DELETE and OPTIONS discovery, with the CORS headers browser clients need."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._context import app_context
from functions._http import KEYED, Handler, endpoint, principal_of, upload_body
from shared.db import Row
from shared.errors import MethodNotAllowed
from shared.resumable.tus import (
    OFFSET_CONTENT_TYPE,
    VERSION,
    Creation,
    check_version,
    create,
    head,
    options_headers,
    terminate,
    upload_headers,
)
from shared.resumable.tus_patch import Patch, create_with_upload, parse_checksum, patch

bp = func.Blueprint()

ROUTE = "api/v1/storage/upload/tus"
_EXPOSE = ("Location, Upload-Offset, Upload-Length, Upload-Expires, Upload-Metadata, "
           "Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, "
           "X-Request-ID, X-File-Id, Retry-After")
_ALLOW_HEADERS = ("Authorization, Content-Type, Upload-Length, Upload-Offset, Upload-Metadata, "
                  "Upload-Checksum, Upload-Defer-Length, Upload-Concat, Tus-Resumable, "
                  "X-Request-ID, X-HTTP-Method-Override")
_METHODS = "POST, HEAD, PATCH, DELETE, OPTIONS"


def _cors(req: Request) -> dict[str, str]:
    allowed = app_context().settings.cors_allowed_origins
    origin = req.headers.get("origin", "")
    if "*" in allowed:
        value = "*"
    elif origin in allowed:
        value = origin
    else:
        return {}
    return {"Access-Control-Allow-Origin": value, "Access-Control-Expose-Headers": _EXPOSE,
            "Vary": "Origin"}


def tus_endpoint(handler: Handler) -> Handler:
    """``endpoint`` (the spec's error body) plus what every tus answer carries."""
    wrapped = endpoint(handler)

    @functools.wraps(handler)
    async def wrapper(req: Request) -> Response:
        response = await wrapped(req)
        if req.method == "HEAD" and response.status_code >= 400:
            response = Response(status_code=response.status_code,
                                headers={"X-Request-ID": response.headers.get("x-request-id", "")})
        response.headers["Tus-Resumable"] = VERSION
        response.headers["Cache-Control"] = "no-store"
        for name, value in _cors(req).items():
            response.headers[name] = value
        return response

    return wrapper


def _options() -> Response:
    ctx = app_context()
    return Response(status_code=204, headers={
        **options_headers(ctx.settings.max_resumable_file_size),
        "Access-Control-Allow-Methods": _METHODS, "Access-Control-Allow-Headers": _ALLOW_HEADERS,
        "Access-Control-Max-Age": "86400"})


def _length(req: Request) -> int | None:
    raw = req.headers.get("content-length")
    return int(raw) if raw and raw.isdigit() else None


def _location(upload_id: str) -> str:
    return f"{app_context().settings.public_base_url.rstrip('/')}/{ROUTE}/{upload_id}"


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator with nothing in it


@bp.route(route=ROUTE, methods=["POST", "OPTIONS"], auth_level=KEYED)
@tus_endpoint
async def tus_create(req: Request) -> Response:
    if req.method == "OPTIONS":
        return _options()
    check_version(req.headers.get("tus-resumable"))
    principal = await principal_of(req)
    ctx = app_context()
    checksum = parse_checksum(req.headers.get("upload-checksum"))
    row: Row = await create(ctx, Creation(
        principal=principal, upload_length=req.headers.get("upload-length"),
        defer_length=req.headers.get("upload-defer-length"),
        metadata=req.headers.get("upload-metadata")))
    with_upload = req.headers.get("content-type", "").split(";")[0].strip().lower() \
        == OFFSET_CONTENT_TYPE
    if with_upload or row["file_size"] == 0:  # creation-with-upload; an empty file is done
        body = upload_body(req) if with_upload else _empty()
        row = await create_with_upload(ctx, row, principal, checksum, _length(req), body)
    return Response(status_code=201, headers={**upload_headers(row),
                                              "Location": _location(row["id"])})


@bp.route(route=ROUTE + "/{upload_id}", methods=["HEAD", "PATCH", "DELETE", "POST", "OPTIONS"],
          auth_level=KEYED)
@tus_endpoint
async def tus_upload(req: Request) -> Response:
    method = req.method
    if method == "POST":  # X-HTTP-Method-Override, for clients behind proxies
        method = req.headers.get("x-http-method-override", "").strip().upper()
        if method not in {"PATCH", "DELETE"}:
            raise MethodNotAllowed(details={"allowed": _METHODS})
    if method == "OPTIONS":
        return _options()
    check_version(req.headers.get("tus-resumable"))
    ctx, principal = app_context(), await principal_of(req)
    upload_id = req.path_params["upload_id"]
    if method == "HEAD":
        return Response(status_code=200, headers=await head(ctx, principal, upload_id))
    if method == "DELETE":
        await terminate(ctx, principal, upload_id)
        return Response(status_code=204)
    row = await patch(ctx, Patch(
        principal=principal, upload_id=upload_id, offset=req.headers.get("upload-offset"),
        content_type=req.headers.get("content-type"),
        checksum=req.headers.get("upload-checksum"), content_length=_length(req)),
        upload_body(req))
    return Response(status_code=204, headers=upload_headers(row))
