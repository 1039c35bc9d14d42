"""Event Grid, emulated for blob triggers with ``source="EventGrid"``.

In Azure, the storage account's system topic emits ``Microsoft.Storage.BlobCreated`` for every
blob written, and a subscription delivers each event to the host's blob webhook, at least
once: a delivery that fails (no answer within 30 s, or not 2xx) is retried on Event Grid's
schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h) until the
subscription's limits (30 attempts, 24 h by default), then written to its dead-letter
container as ``<SUBSCRIPTION>/<y>/<m>/<d>/<h>/<uuid>.json``: a JSON array of the event with
``deadLetterReason``, ``deliveryAttempts``, ``lastDeliveryOutcome``, ``lastHttpStatusCode``,
``publishTime`` and ``lastDeliveryAttemptTime``.

Here, one ``EventGridSubscription`` per such function (its name is the subscription's):

- the topic is a scan of the container (Azurite has no events): every blob version (name and
  ETag) seen once is published once, and remembered in the watched account's
  ``devhost-eventgrid`` container, so a restart publishes nothing again;
- the subscription's retry queue is a storage queue in the same account, its messages' hidden
  time being the back-off (durable across restarts, as Event Grid's is);
- delivery is an HTTP POST to the devhost's own webhook, as Event Grid's is to the host's.

Settings (for tests): ``DEVHOST_EVENTGRID_TIME_SCALE`` multiplies the schedule and the TTL,
``DEVHOST_EVENTGRID_MAX_ATTEMPTS``, ``DEVHOST_EVENTGRID_TTL_MINUTES`` and
``DEVHOST_EVENTGRID_DEADLETTER_CONTAINER`` (default ``eventgrid-deadletter``) are the
subscription's. Not emulated: the 5-minute delay before dead-lettering, the randomisation of
the schedule, the codes Event Grid never retries (our webhook never answers them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue import QueueMessage as SdkQueueMessage
from azure.storage.queue.aio import QueueClient

from devhost.blobs import BlobPath, function_id, poll_seconds
from devhost.functions import OutageLog
from devhost.storage import POLLER_CLIENT_OPTIONS

log = logging.getLogger("devhost.eventgrid")

RETRY_SCHEDULE = (10, 30, 60, 300, 600, 1800, 3600, 10800, 21600)
RETRY_AFTER_SCHEDULE = 43200
STATE_CONTAINER = "devhost-eventgrid"
WEBHOOK_PATH = "runtime/webhooks/blobs"


@dataclass(frozen=True)
class EventGridOptions:
    time_scale: float = 1.0
    max_attempts: int = 30
    ttl_minutes: float = 1440.0
    dead_letter_container: str = "eventgrid-deadletter"
    response_timeout: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EventGridOptions:
        source = os.environ if env is None else env
        return cls(
            time_scale=float(source.get("DEVHOST_EVENTGRID_TIME_SCALE", cls.time_scale)),
            max_attempts=int(source.get("DEVHOST_EVENTGRID_MAX_ATTEMPTS", cls.max_attempts)),
            ttl_minutes=float(source.get("DEVHOST_EVENTGRID_TTL_MINUTES", cls.ttl_minutes)),
            dead_letter_container=source.get("DEVHOST_EVENTGRID_DEADLETTER_CONTAINER",
                                             cls.dead_letter_container),
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next try, after ``attempts`` failed ones."""
        base = (RETRY_SCHEDULE[attempts - 1] if attempts <= len(RETRY_SCHEDULE)
                else RETRY_AFTER_SCHEDULE)
        return base * self.time_scale

    @property
    def ttl_seconds(self) -> float:
        return self.ttl_minutes * 60 * self.time_scale


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def blob_created_event(account: str, container: str, name: str, etag: str, url: str,
                       content_type: str | None, length: int) -> dict[str, Any]:
    """A ``Microsoft.Storage.BlobCreated`` event in the Event Grid schema."""
    return {
        "topic": f"/subscriptions/devhost/resourceGroups/devhost/providers/"
                 f"Microsoft.Storage/storageAccounts/{account}",
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "id": str(uuid.uuid4()),
        "eventTime": _now(),
        "dataVersion": "",
        "metadataVersion": "1",
        "data": {
            "api": "PutBlob", "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()), "eTag": etag.strip('"'),
            "contentType": content_type or "application/octet-stream",
            "contentLength": length, "blobType": "BlockBlob", "url": url,
            "sequencer": f"{uuid.uuid4().int:032x}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
    }


def subscription_queue_name(function_name: str, container: str) -> str:
    """The retry queue of a function's subscription to a container: a storage queue name
    (3-63 of a-z, 0-9 and single dashes)."""
    raw = f"{function_name}-{container}".lower()
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", raw))
    return f"devhost-eventgrid-{cleaned.strip('-')}"[:63].rstrip("-")


def _encode(payload: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload).encode()).decode("ascii")


def _decode(content: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.b64decode(content))
    return payload


class EventGridSubscription:
    """The topic (a container scan) and one subscription delivering to ``webhook_url``."""

    def __init__(self, function_name: str, path: BlobPath, conn_str: str, webhook_url: str,
                 options: EventGridOptions) -> None:
        self.name = function_name
        self.path = path
        self.options = options
        self.webhook_url = (f"{webhook_url.rstrip('/')}/{WEBHOOK_PATH}"
                            f"?functionName={quote(function_id(function_name))}")
        self._service = BlobServiceClient.from_connection_string(conn_str,
                                                                 **POLLER_CLIENT_OPTIONS)
        self._queue = QueueClient.from_connection_string(
            conn_str, subscription_queue_name(function_name, path.container),
            **POLLER_CLIENT_OPTIONS)
        self._published: set[tuple[str, str]] = set()
        self._http = httpx.AsyncClient(timeout=max(options.response_timeout
                                                   * options.time_scale, 1.0))

    @property
    def _fields(self) -> dict[str, str]:
        return {"function": self.name, "container": self.path.container}

    @property
    def _marker_prefix(self) -> str:
        return f"{self.name}/{self.path.container}/published/"

    async def run(self) -> None:
        state = self._service.get_container_client(STATE_CONTAINER)
        with contextlib.suppress(ResourceExistsError):
            await state.create_container()
        with contextlib.suppress(ResourceExistsError):
            await self._queue.create_queue()
        async for marker in state.list_blobs(name_starts_with=self._marker_prefix):
            etag, _, name = marker.name[len(self._marker_prefix):].partition("/")
            self._published.add((name, etag))
        log.info("event grid subscription active",
                 extra={"fields": {**self._fields, "queue": self._queue.queue_name}})
        await asyncio.gather(self._publish_forever(), self._deliver_forever())

    async def close(self, grace: float = 5.0) -> None:
        await self._http.aclose()
        await self._service.close()
        await self._queue.close()

    # -- the topic: one event per new blob version

    async def _publish_forever(self) -> None:
        outage = OutageLog(log, "event source scan", self._fields)
        while True:
            try:
                await self._publish_new()
                outage.succeeded()
            except ResourceNotFoundError:
                pass  # the container does not exist yet
            except Exception as exc:
                outage.failed(exc)
            await asyncio.sleep(poll_seconds())

    async def _publish_new(self) -> None:
        container = self._service.get_container_client(self.path.container)
        state = self._service.get_container_client(STATE_CONTAINER)
        async for blob in container.list_blobs(name_starts_with=self.path.prefix or None):
            etag = str(blob.etag).strip('"')
            if (blob.name, etag) in self._published or not self.path.matches(blob.name):
                continue
            url = container.get_blob_client(blob.name).url
            event = blob_created_event(self._service.account_name or "devstoreaccount1",
                                       self.path.container, blob.name, etag, url,
                                       blob.content_settings.content_type, blob.size or 0)
            # Queued before it is remembered: a crash in between publishes it twice, never
            # zero times (Event Grid's own guarantee is at least once too).
            await self._queue.send_message(_encode({"event": event, "publishTime": _now()}))
            await state.upload_blob(f"{self._marker_prefix}{etag}/{blob.name}", b"",
                                    overwrite=True)
            self._published.add((blob.name, etag))
            log.info("event published", extra={"fields": {**self._fields, "blob": blob.name,
                                                          "event_id": event["id"]}})

    # -- the subscription: deliveries, retries, dead letters

    async def _deliver_forever(self) -> None:
        outage = OutageLog(log, "event delivery queue", self._fields)
        # Hidden while an attempt runs; a crash mid-attempt makes it an attempt that failed.
        lease = math.ceil(self.options.response_timeout * self.options.time_scale) + 5
        while True:
            try:
                messages = [message async for message in self._queue.receive_messages(
                    messages_per_page=16, max_messages=16, visibility_timeout=lease)]
                outage.succeeded()
            except Exception as exc:
                outage.failed(exc)
                messages = []
            if messages:
                results = await asyncio.gather(*(self._attempt(message) for message in messages),
                                               return_exceptions=True)
                for error in (r for r in results if isinstance(r, Exception)):
                    # The message stays hidden until its lease ends, then is tried again.
                    log.error("event delivery bookkeeping failed", exc_info=error,
                              extra={"fields": self._fields})
            else:
                await asyncio.sleep(min(poll_seconds(), 1.0))

    async def _attempt(self, message: SdkQueueMessage) -> None:
        payload = _decode(message.content)
        event, attempts = payload["event"], int(message.dequeue_count or 1)
        fields = {**self._fields, "event_id": event["id"], "attempt": attempts}
        outcome, status = await self._post(event, attempts)
        if status is not None and 200 <= status < 300:
            await self._queue.delete_message(message)
            log.info("event delivered", extra={"fields": fields})
            return
        reason = self._dead_letter_reason(payload, attempts)
        if reason is None:
            delay = self.options.retry_delay(attempts)
            await self._queue.update_message(message, visibility_timeout=math.ceil(delay))
            log.warning("event delivery failed; retrying", extra={"fields": {
                **fields, "outcome": outcome, "status": status, "retry_in": delay}})
            return
        await self._dead_letter(payload, reason, attempts, outcome, status)
        await self._queue.delete_message(message)
        log.error("event dead-lettered", extra={"fields": {**fields, "reason": reason}})

    async def _post(self, event: Mapping[str, Any], attempts: int) -> tuple[str, int | None]:
        headers = {"aeg-event-type": "Notification", "aeg-subscription-name": self.name.upper(),
                   "aeg-delivery-count": str(attempts - 1)}
        try:
            response = await self._http.post(self.webhook_url, json=[event], headers=headers)
        except httpx.TimeoutException:
            return "TimedOut", None
        except httpx.HTTPError:
            return "GenericError", None
        outcome = "Delivered" if response.is_success else (
            "Busy" if response.status_code == 503 else "GenericError")
        return outcome, response.status_code

    def _dead_letter_reason(self, payload: Mapping[str, Any], attempts: int) -> str | None:
        if attempts >= self.options.max_attempts:
            return "MaxDeliveryAttemptsExceeded"
        published = datetime.fromisoformat(payload["publishTime"].replace("Z", "+00:00"))
        age = (datetime.now(UTC) - published).total_seconds()
        if age + self.options.retry_delay(attempts) > self.options.ttl_seconds:
            return "TimeToLiveExceeded"
        return None

    async def _dead_letter(self, payload: Mapping[str, Any], reason: str, attempts: int,
                           outcome: str, status: int | None) -> None:
        now = datetime.now(UTC)
        entry = {**payload["event"], "deadLetterReason": reason, "deliveryAttempts": attempts,
                 "lastDeliveryOutcome": outcome, "lastHttpStatusCode": status or 0,
                 "publishTime": payload["publishTime"], "lastDeliveryAttemptTime": _now()}
        container = self._service.get_container_client(self.options.dead_letter_container)
        with contextlib.suppress(ResourceExistsError):
            await container.create_container()
        # Event Grid's layout: the subscription's name upper-cased, the date not zero-padded.
        name = (f"{self.name.upper()}/{now.year}/{now.month}/{now.day}/{now.hour}/"
                f"{uuid.uuid4()}.json")
        await container.upload_blob(name, json.dumps([entry]).encode())
