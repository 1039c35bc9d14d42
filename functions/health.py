"""Health resource: ``GET /health`` (no token; in Azure the gateway adds the function key)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, endpoint, json_response
from shared import health

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=KEYED)
@endpoint
async def health_check(req: Request) -> JSONResponse:
    code, body = await health.check(app_context())
    return json_response(body, status=code, headers={"Cache-Control": "no-store"})
