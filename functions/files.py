"""Files resource: list, details, metadata update, delete (trash or permanent), restore."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from functions._context import app_context
from functions._http import KEYED, body_model, endpoint, json_response, principal_of, query_model
from shared.errors import ValidationFailed
from shared.files import service
from shared.files.models import FileUpdate, ListQuery

bp = func.Blueprint()


def _flag(req: Request, name: str) -> bool:
    value = req.query_params.get(name, "false").strip().lower()
    if value not in {"true", "false", "1", "0"}:
        raise ValidationFailed(details={"errors": [{"field": name, "message": "true or false"}]})
    return value in {"true", "1"}


@bp.route(route="api/v1/storage/files", methods=["GET"], auth_level=KEYED)
@endpoint
async def list_files(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    query = query_model(req, ListQuery)
    return json_response(await service.list_files(app_context(), principal, query))


@bp.route(route="api/v1/storage/files/{file_id}", methods=["GET"], auth_level=KEYED)
@endpoint
async def get_file(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    file_id = req.path_params["file_id"]
    return json_response(await service.file_detail(app_context(), principal, file_id))


@bp.route(route="api/v1/storage/files/{file_id}", methods=["PUT"], auth_level=KEYED)
@endpoint
async def update_file(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    update = await body_model(req, FileUpdate)
    return json_response(
        await service.update_file(app_context(), principal, req.path_params["file_id"], update)
    )


@bp.route(route="api/v1/storage/files/{file_id}", methods=["DELETE"], auth_level=KEYED)
@endpoint
async def delete_file(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    result = await service.delete_file(app_context(), principal, req.path_params["file_id"],
                                       permanent=_flag(req, "permanent"))
    return json_response(result)


@bp.route(route="api/v1/storage/files/{file_id}/restore", methods=["POST"], auth_level=KEYED)
@endpoint
async def restore_file(req: Request) -> JSONResponse:
    principal = await principal_of(req)
    file_id = req.path_params["file_id"]
    return json_response(await service.restore_file(app_context(), principal, file_id))
