"""The API's own description: ``GET /api/v1/openapi.json`` (OpenAPI 3.1)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._http import KEYED, endpoint, json_response
from shared.openapi import document

bp = func.Blueprint()


@bp.route(route="api/v1/openapi.json", methods=["GET"], auth_level=KEYED)
@endpoint
async def openapi_document(req: Request) -> JSONResponse:
    return json_response(document(), headers={"Cache-Control": "public, max-age=300"})
