"""Transformations: ``POST /transform`` and ``GET /transform/{id}`` (HTTP), the queue worker
that runs them and the poison queue's trigger that ends the ones that kept failing."""

from __future__ import annotations

import logging

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, body_model, endpoint, json_response, principal_of
from shared.processing import requests, worker
from shared.processing.models import TransformRequest

bp = func.Blueprint()
log = logging.getLogger(__name__)
_MAX_MESSAGE = 4096


@bp.route(route="api/v1/storage/transform", methods=["POST"], auth_level=KEYED)
@endpoint
async def transform(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    body = await body_model(req, TransformRequest)
    accepted = await requests.request_transformation(app_context(), principal, body)
    return json_response(accepted, status=202)


@bp.route(route="api/v1/storage/transform/{transform_id}", methods=["GET"], auth_level=KEYED)
@endpoint
async def transform_status(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    return json_response(await requests.transformation_status(
        app_context(), principal, req.path_params["transform_id"]))


@bp.queue_trigger(arg_name="msg", queue_name="%TRANSFORM_QUEUE_NAME%",
                  connection="AzureWebJobsStorage")
async def transform_worker(msg: func.QueueMessage) -> None:
    outcome = await worker.handle_message(app_context(), msg.get_body()[:_MAX_MESSAGE])
    log.info("transformation message %s (delivery %s): %s", msg.id, msg.dequeue_count, outcome)


@bp.queue_trigger(arg_name="msg", queue_name="%TRANSFORM_QUEUE_NAME%-poison",
                  connection="AzureWebJobsStorage")
async def transform_poison(msg: func.QueueMessage) -> None:
    outcome = await worker.give_up(app_context(), msg.get_body()[:_MAX_MESSAGE])
    log.warning("transformation message %s reached the poison queue: %s", msg.id, outcome)
