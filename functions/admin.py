"""Admin resource: the reconciliation of the stores with the tables, on demand, and its
last report (the timer also runs it every ``RECONCILE_INTERVAL_HOURS``)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, endpoint, json_response, principal_of
from shared import reconcile
from shared.errors import Forbidden, NotFound

bp = func.Blueprint()


async def _admin(req: Request) -> None:
    if not (await principal_of(req)).is_admin:
        raise Forbidden("Only admins may reconcile the stores", details={"role_needed": "admin"})


@bp.route(route="api/v1/storage/admin/reconciliation", methods=["POST"], auth_level=KEYED)
@endpoint
async def reconcile_now(req: Request) -> JSONResponse:
    await _admin(req)
    return json_response({"report": await reconcile.run(app_context(), "admin")})


@bp.route(route="api/v1/storage/admin/reconciliation", methods=["GET"], auth_level=KEYED)
@endpoint
async def reconciliation_report(req: Request) -> JSONResponse:
    await _admin(req)
    last = await reconcile.last_report(app_context())
    if last is None:
        raise NotFound("No reconciliation has run yet")
    return json_response({"report": last["report"]})
