"""Upload resource: single-shot multipart upload (resumable and tus uploads come later)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import (
    KEYED,
    after_refusal,
    endpoint,
    json_response,
    principal_of,
    upload_body,
)
from shared.errors import ApiError
from shared.files.upload import UploadRequest, upload_file

bp = func.Blueprint()

@bp.route(route="api/v1/storage/upload", methods=["POST"],
          auth_level=KEYED)
@endpoint
async def upload(req: Request) -> JSONResponse:
    length = req.headers.get("content-length")
    body = upload_body(req)
    try:
        # Authenticated before a byte of the body is read.
        request = UploadRequest(
            principal=await principal_of(req),
            content_type=req.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            checksum_md5=req.headers.get("x-file-checksum"),
        )
        result = await upload_file(app_context(), request, body)
    except ApiError as exc:
        await after_refusal(req, body, exc)
        raise
    return json_response(result, status=201)
