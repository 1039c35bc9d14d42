"""The specification's resumable upload: init, chunk, and the status of a session."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import (
    KEYED,
    after_refusal,
    body_model,
    endpoint,
    json_response,
    principal_of,
    upload_body,
)
from shared.errors import ApiError
from shared.resumable.chunks import ChunkRequest, init_upload, put_chunk, session_status
from shared.resumable.models import ResumableInit

bp = func.Blueprint()


@bp.route(route="api/v1/storage/upload/resumable/init", methods=["POST"],
          auth_level=KEYED)
@endpoint
async def resumable_init(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    body = await body_model(req, ResumableInit)
    return json_response(await init_upload(app_context(), principal, body), status=201)


@bp.route(route="api/v1/storage/upload/resumable/chunk", methods=["PUT"],
          auth_level=KEYED)
@endpoint
async def resumable_chunk(req: Request) -> JSONResponse:
    length = req.headers.get("content-length")
    body = upload_body(req)
    try:
        request = ChunkRequest(
            principal=(await principal_of(req)),
            session_id=req.headers.get("x-upload-session"),
            index=req.headers.get("x-chunk-index"),
            checksum_md5=req.headers.get("x-chunk-checksum"),
            content_length=int(length) if length and length.isdigit() else None,
        )
        result = await put_chunk(app_context(), request, body)
    except ApiError as exc:
        await after_refusal(req, body, exc)
        raise
    return json_response(result)


@bp.route(route="api/v1/storage/upload/resumable/{session_id}", methods=["GET"],
          auth_level=KEYED)
@endpoint
async def resumable_status(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    session_id = req.path_params["session_id"]
    return json_response(await session_status(app_context(), principal, session_id))
