"""Download resource: ``GET /download/{file_id}`` answers 302 to a short-lived signed URL."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import RedirectResponse, Request

from functions._http import endpoint, optional_principal, query_model
from shared.delivery.download import DownloadQuery, download

bp = func.Blueprint()


@bp.route(route="api/v1/storage/download/{file_id}", methods=["GET"],
          auth_level=func.AuthLevel.ANONYMOUS)
@endpoint
async def download_file(req: Request) -> RedirectResponse:
    principal = optional_principal(req)  # public files need no token
    target = await download(principal, req.path_params["file_id"],
                            query_model(req, DownloadQuery))
    return RedirectResponse(target.url, status_code=302, headers=target.headers)
