"""CDN resource: purge requests and their progress, statistics; and the worker of the
``cdn-purge`` queue that carries the purges out at every provider."""

from __future__ import annotations

import json
import logging

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, body_model, endpoint, json_response, principal_of, query_model
from shared.distribution import purge, stats
from shared.distribution.models import PurgeBody, StatsQuery
from shared.files.edge import CDN_PURGE_QUEUE

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.route(route="api/v1/storage/cdn/purge", methods=["POST"], auth_level=KEYED)
@endpoint
async def cdn_purge(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    body = await body_model(req, PurgeBody)
    return json_response(await purge.request(app_context(), principal, body), status=202)


@bp.route(route="api/v1/storage/cdn/purge/{purge_id}", methods=["GET"], auth_level=KEYED)
@endpoint
async def cdn_purge_status(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    return json_response(
        await purge.status(app_context(), principal, req.path_params["purge_id"]))


@bp.route(route="api/v1/storage/cdn/stats", methods=["GET"], auth_level=KEYED)
@endpoint
async def cdn_stats(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    query = query_model(req, StatsQuery)
    return json_response(await stats.cdn_stats(app_context(), principal, query))


@bp.queue_trigger(arg_name="msg", queue_name=CDN_PURGE_QUEUE, connection="AzureWebJobsStorage")
async def cdn_purge_worker(msg: func.QueueMessage) -> None:
    try:
        purge_id = str(json.loads(msg.get_body()[:1024])["purge_id"])[:64]
    except (ValueError, KeyError, TypeError):
        log.error("cdn-purge message %s is not {purge_id}: dropped", msg.id)
        return
    log.info("purge %s: %s", purge_id, await purge.carry_out(app_context(), purge_id))
