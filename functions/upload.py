"""Upload resource: single-shot multipart upload (resumable and tus uploads come later)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, endpoint, json_response, principal_of
from shared.files.upload import UploadRequest, upload_file

bp = func.Blueprint()

# After a refusal, the rest of the body is read and dropped (up to this much) so that
# clients that send the whole body before reading the answer still see the error.
_DRAIN_LIMIT = 1024**3


async def _drain(body: AsyncIterator[bytes], limit: int) -> None:
    seen = 0
    try:
        async for chunk in body:
            seen += len(chunk)
            if seen > limit:
                return
    except Exception:  # the client went away; nothing left to answer
        return


@bp.route(route="api/v1/storage/upload", methods=["POST"],
          auth_level=KEYED)
@endpoint
async def upload(req: Request) -> JSONResponse:
    length = req.headers.get("content-length")
    body = req.stream()
    try:
        request = UploadRequest(
            principal=await principal_of(req),
            content_type=req.headers.get("content-type"),
            content_length=int(length) if length and length.isdigit() else None,
            checksum_md5=req.headers.get("x-file-checksum"),
        )
        result = await upload_file(app_context(), request, body)
    except Exception:
        if req.headers.get("expect", "").lower() != "100-continue":
            await _drain(body, _DRAIN_LIMIT)
        raise
    return json_response(result, status=201)
