"""What the routes answer to a method they do not have: 405 with ``Allow`` (the route's
methods) in the specification's error body, and 404 in that body for a path that names no
route, instead of the host's empty answers.

One fallback function per top-level part of the URL space (``api/...``, the CDN origin's
``files/``, ``thumbnails/``, ``previews/``, and ``health``): the host tries a route's own
functions first and reaches these only when none of them has the method (catch-alls come
last). There is no catch-all at the root, which would shadow the host's own endpoints.
They need the function key like every HTTP function (``KEYED``).
"""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._http import KEYED, endpoint
from shared.errors import MethodNotAllowed, NotFound
from shared.routes import allowed_methods

bp = func.Blueprint()
FALLBACK_PREFIX = "method_fallback_"
_ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _refuse(req: Request) -> Response:
    path = req.url.path
    allowed = allowed_methods(path)
    if allowed is None:
        raise NotFound("No such route", details={"path": path[:300]})
    raise MethodNotAllowed(f"{req.method} is not allowed here",
                           details={"method": req.method[:20], "allowed": allowed},
                           headers={"Allow": ", ".join(allowed)})


@bp.function_name("method_fallback_api")
@bp.route(route="api/{*rest}", methods=_ALL, auth_level=KEYED)
@endpoint
async def method_fallback_api(req: Request) -> Response:
    return await _refuse(req)


@bp.function_name("method_fallback_files")
@bp.route(route="files/{*rest}", methods=_ALL, auth_level=KEYED)
@endpoint
async def method_fallback_files(req: Request) -> Response:
    return await _refuse(req)


@bp.function_name("method_fallback_thumbnails")
@bp.route(route="thumbnails/{*rest}", methods=_ALL, auth_level=KEYED)
@endpoint
async def method_fallback_thumbnails(req: Request) -> Response:
    return await _refuse(req)


@bp.function_name("method_fallback_previews")
@bp.route(route="previews/{*rest}", methods=_ALL, auth_level=KEYED)
@endpoint
async def method_fallback_previews(req: Request) -> Response:
    return await _refuse(req)


@bp.function_name("method_fallback_health")
@bp.route(route="health", methods=[m for m in _ALL if m != "GET"], auth_level=KEYED)
@endpoint
async def method_fallback_health(req: Request) -> Response:
    return await _refuse(req)
