"""Refused by the worker: a classic ``func.HttpRequest`` beside the HTTP streaming extension,
which hands HTTP functions its own request type."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="items", methods=["GET"])
async def items(req: func.HttpRequest) -> JSONResponse:
    return JSONResponse({"url": req.url})
