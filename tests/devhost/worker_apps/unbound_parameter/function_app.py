"""Refused by the worker: ``page`` is a parameter with no binding."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items", methods=["GET"])
async def items(req: Request, page: int) -> JSONResponse:
    return JSONResponse({"page": page})
