"""The host's side of blob triggers with ``source="EventGrid"``, as the blobs extension does
it (its HttpRequestProcessor and BlobQueueTriggerExecutor):

- the webhook ``POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>`` answers
  Event Grid's subscription validation, and turns each ``BlobCreated`` event into a
  BlobTriggerMessage on the host's queue ``azure-webjobs-blobtrigger-<hostid>`` (in the
  host's storage, ``AzureWebJobsStorage``), then answers 202. Event Grid's retries therefore
  cover only the webhook: the host unreachable or its storage down (a 500);
- that queue is processed with the host's queue rules (``maxDequeueCount`` attempts,
  ``visibilityTimeout`` apart, then ``webjobs-blobtrigger-poison``). A blob deleted meanwhile
  is skipped; there are no receipts: every event runs the function.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient
from azure.storage.queue import QueueMessage as SdkQueueMessage
from azure.storage.queue.aio import QueueClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from devhost.blobs import POISON_QUEUE, blob_argument, host_id, trigger_message
from devhost.config import QueueOptions
from devhost.functions import FunctionSpec, Invoker
from devhost.queues import QueueListener, encode_body
from devhost.storage import POLLER_CLIENT_OPTIONS, connection_string

log = logging.getLogger("devhost.blobqueue")

# Event Grid delivers at most 1 MB per request.
MAX_BODY_BYTES = 1024 * 1024


def host_queue_name() -> str:
    return f"azure-webjobs-blobtrigger-{host_id().lower()}"[:63].rstrip("-")


class BlobWebhook:
    """The ASGI endpoint Event Grid delivers to."""

    def __init__(self, host_conn_str: str, options: QueueOptions) -> None:
        self.options = options
        # No retry of our own: a failed write answers 500 and Event Grid retries the delivery.
        self._queue = QueueClient.from_connection_string(
            host_conn_str, host_queue_name(), **{**POLLER_CLIENT_OPTIONS, "retry_total": 0})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except Exception:
            log.exception("blob webhook failed")
            response = Response(status_code=500)  # what the host's ExceptionMiddleware sends
        await response(scope, receive, send)

    async def close(self) -> None:
        await self._queue.close()

    async def _answer(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return Response(status_code=413)
        try:
            events = json.loads(body)
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise ValueError("not an array of events")
        except ValueError:
            return Response(status_code=400)
        kind = request.headers.get("aeg-event-type", "")
        if kind == "SubscriptionValidation" and events:
            code = (events[0].get("data") or {}).get("validationCode")
            return JSONResponse({"validationResponse": code})
        if kind != "Notification":
            return Response(status_code=400)
        function_id = request.query_params.get("functionName", "")
        for event in events:
            await self._enqueue(function_id, event.get("data") or {})
        return Response(status_code=202)

    async def _enqueue(self, function_id: str, data: Mapping[str, Any]) -> None:
        blob = BlobClient.from_blob_url(str(data["url"]))
        name = function_id.removeprefix("Host.Functions.")
        message = trigger_message(name, blob.container_name, blob.blob_name, str(data["eTag"]))
        try:
            await self._queue.send_message(encode_body(message, self.options.message_encoding))
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await self._queue.create_queue()
            await self._queue.send_message(encode_body(message, self.options.message_encoding))


def blob_queue_runner(specs: Mapping[str, FunctionSpec], host_conn_str: str,
                      options: QueueOptions, invoke: Invoker) -> QueueListener:
    """Runs the functions named in the host queue's messages (``specs`` by function id)."""

    async def handle(message: SdkQueueMessage, body: bytes) -> None:
        trigger = json.loads(body)
        spec = specs.get(str(trigger.get("FunctionId")))
        fields = {"message_id": message.id, "blob": trigger.get("BlobName")}
        if spec is None:
            log.warning("no such blob function; message ignored",
                        extra={"fields": {**fields, "function_id": trigger.get("FunctionId")}})
            return
        conn_str = connection_string(spec.trigger.get("connection"))
        container, name = str(trigger["ContainerName"]), str(trigger["BlobName"])
        client = BlobClient.from_connection_string(conn_str, container, name)
        try:
            await asyncio.to_thread(client.get_blob_properties)
        except ResourceNotFoundError:
            log.info("blob gone; message ignored", extra={"fields": fields})
            return
        argument = await asyncio.to_thread(blob_argument, spec, conn_str, container, name)
        await invoke(spec, {spec.arg_name: argument})

    return QueueListener("blob-trigger-queue", host_queue_name(), POISON_QUEUE, host_conn_str,
                         options, handle)
