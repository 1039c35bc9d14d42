"""The CDN's origin: ``/files/{id}``, ``/thumbnails/{id}``, ``/previews/{id}`` of public files
(what Front Door and the local Varnish fetch; clients use the CDN's URLs). GET and HEAD."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._context import app_context
from functions._http import KEYED, endpoint
from functions.download import send_stream
from shared.delivery.edge import serve_edge
from shared.errors import ApiError

bp = func.Blueprint()


async def _serve(req: Request, kind: str) -> Response:
    try:
        result = await serve_edge(app_context(), kind, req.path_params["file_id"], req.method,
                                  req.headers)
    except ApiError as exc:
        exc.headers.setdefault("Cache-Control", "no-store")  # no shared cache keeps a refusal
        raise
    return await send_stream(result, req.method)


@bp.route(route="files/{file_id}", methods=["GET", "HEAD"], auth_level=KEYED)
@endpoint
async def edge_file(req: Request) -> Response:
    return await _serve(req, "files")


@bp.route(route="thumbnails/{file_id}", methods=["GET", "HEAD"], auth_level=KEYED)
@endpoint
async def edge_thumbnail(req: Request) -> Response:
    return await _serve(req, "thumbnails")


@bp.route(route="previews/{file_id}", methods=["GET", "HEAD"], auth_level=KEYED)
@endpoint
async def edge_preview(req: Request) -> Response:
    return await _serve(req, "previews")
