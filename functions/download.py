"""Delivery resource: ``/download/{file_id}`` (302 to a signed URL, or a decrypted stream)
and ``/stream/{file_id}`` (RFC 9110 ranges and validators, GET and HEAD)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import azure.functions as func
from azurefunctions.extensions.http.fastapi import (
    RedirectResponse,
    Request,
    Response,
    StreamingResponse,
)

from functions._context import app_context
from functions._http import KEYED, endpoint, optional_principal, query_model
from shared.delivery.download import DownloadQuery, Redirect, download
from shared.delivery.stream import StreamQuery, StreamResponse, stream

bp = func.Blueprint()


async def _primed(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Read the first chunk before the status line goes out, so that a storage or integrity
    failure there is a proper error response instead of a broken stream."""
    first = await anext(body, None)

    async def chained() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for chunk in body:
            yield chunk

    return chained()


async def send_stream(result: StreamResponse, method: str) -> Response:
    headers = {**result.headers, "Content-Length": str(result.length)}
    if result.status == 304:
        return Response(status_code=304, headers=result.headers)
    if method == "HEAD" or result.body is None:
        return Response(status_code=result.status, headers=headers)
    body = await _primed(result.body)
    return StreamingResponse(body, status_code=result.status, headers=headers)


@bp.route(route="api/v1/storage/download/{file_id}", methods=["GET"], auth_level=KEYED)
@endpoint
async def download_file(req: Request) -> Response:
    principal = await optional_principal(req)
    result = await download(app_context(), principal, req.path_params["file_id"],
                            query_model(req, DownloadQuery))
    if isinstance(result, Redirect):
        return RedirectResponse(result.url, status_code=302, headers=result.headers)
    return await send_stream(result, req.method)


@bp.route(route="api/v1/storage/stream/{file_id}", methods=["GET", "HEAD"], auth_level=KEYED)
@endpoint
async def stream_file(req: Request) -> Response:
    principal = await optional_principal(req)
    query = query_model(req, StreamQuery)
    result = await stream(app_context(), principal, req.path_params["file_id"], req.method,
                          req.headers, variant=query.variant)
    return await send_stream(result, req.method)
