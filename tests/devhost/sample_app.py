"""A small FunctionApp used only to test the devhost through its real code path.

Every invocation appends one JSON line to ``$SAMPLE_RECORD_FILE`` so that the tests can see
what ran, how often and when.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def record(kind: str, **fields: Any) -> None:
    line = json.dumps({"kind": kind, "t": time.time(), **fields}) + "\n"
    with open(os.environ["SAMPLE_RECORD_FILE"], "a", encoding="utf-8") as handle:
        handle.write(line)


@app.route(route="health", methods=["GET"])
async def health(req: Request) -> JSONResponse:
    return JSONResponse({"status": "HEALTHY"})


@app.route(route="items/{item_id}", methods=["GET", "POST"])
async def get_item(req: Request) -> JSONResponse:
    body = (await req.body()).decode() if req.method == "POST" else None
    return JSONResponse(
        {"id": req.path_params["item_id"], "method": req.method, "body": body,
         "query": dict(req.query_params)}
    )


# Registered after the parameter route on purpose: the literal route must still win.
@app.route(route="items/special", methods=["GET"])
async def special_item(req: Request) -> JSONResponse:
    return JSONResponse({"special": True})


@app.route(route="files/{file_id:guid}/raw", methods=["DELETE"])
async def delete_file(req: Request) -> Response:
    return Response(status_code=204, headers={"X-Deleted": req.path_params["file_id"]})


@app.route(route="fallback/items/{item_id}", methods=["POST"])
async def fallback_item(req: Request) -> JSONResponse:
    return JSONResponse({"posted": req.path_params["item_id"]})


# Tried last: the route above matches GET's path but not its method, so GET lands here.
@app.route(route="fallback/{*rest}", methods=["GET"])
async def fallback(req: Request) -> JSONResponse:
    return JSONResponse({"fallback": req.path_params.get("rest")})


@app.route(route="environment", methods=["GET"])
async def environment(req: Request) -> JSONResponse:
    return JSONResponse({"AZURE_FUNCTIONS_ENVIRONMENT":
                         os.environ.get("AZURE_FUNCTIONS_ENVIRONMENT")})


@app.route(route="slow", methods=["GET"])
async def slow(req: Request) -> JSONResponse:
    """Runs past the sample host.json's functionTimeout (1 s); records its cancellation."""
    try:
        await asyncio.sleep(float(req.query_params.get("seconds", "30")))
    except asyncio.CancelledError:
        record("cancelled", function="slow", id=req.query_params.get("id"))
        raise
    return JSONResponse({"finished": True})


@app.route(route="boom", methods=["GET"])
async def boom(req: Request) -> Response:
    raise RuntimeError("secret internal detail")


@app.route(route="sync", methods=["GET"])
def sync(req: Request) -> Response:
    # A plain (sync) function: the worker runs it in a thread.
    return Response("made", status_code=201, headers={"X-Sync": "yes"}, media_type="text/plain")


@app.route(route="classic", methods=["GET"])
def classic(req: Request):
    # The classic HttpResponse, which the HTTP streaming extension cannot send (annotated
    # `-> func.HttpResponse`, the worker would refuse the whole app).
    return func.HttpResponse("made", status_code=201)


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="AzureWebJobsStorage")
async def work(msg: func.QueueMessage) -> None:
    payload = json.loads(msg.get_body())
    failing = msg.dequeue_count <= payload.get("fail_times", 0)
    record("queue", id=payload["id"], dequeue_count=msg.dequeue_count,
           outcome="fail" if failing else "ok")
    if failing:
        raise RuntimeError(f"attempt {msg.dequeue_count} fails on purpose")


@app.blob_trigger(arg_name="client", path="%SAMPLE_CONTAINER%/incoming/{name}",
                  connection="AzureWebJobsStorage", source="EventGrid")
def on_blob(client: blob.BlobClient) -> None:
    content = client.download_blob().readall()
    record("blob", name=client.blob_name, content=content.decode(),
           client=type(client).__module__ + "." + type(client).__name__)
    if content.startswith(b"fail"):
        raise RuntimeError("this blob fails on purpose")


@app.blob_trigger(arg_name="blob", path="%SAMPLE_CONTAINER%/scanned/{name}",
                  connection="AzureWebJobsStorage")
def on_scanned(blob: func.InputStream) -> None:
    # The default source: the host scans the container and keeps receipts.
    record("scanned", name=blob.name.split("/", 1)[1], content=blob.read().decode())


@app.blob_trigger(arg_name="client", path="%SAMPLE_CONTAINER%/events/{name}",
                  connection="SAMPLE_DATA", source="EventGrid")
def on_event(client: blob.BlobClient) -> None:
    # Event Grid source on a data account that may differ from the host's storage.
    record("event", name=client.blob_name, content=client.download_blob().readall().decode())


@app.timer_trigger(schedule="%SAMPLE_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    record("timer", past_due=timer.past_due)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
async def at_startup(timer: func.TimerRequest) -> None:
    record("startup_timer", past_due=timer.past_due)
