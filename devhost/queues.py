"""Queues polled with the real host's rules: the queue triggers' queues and the host's own
blob-trigger queue (``devhost.blobqueue``).

- A batch of ``batchSize`` messages is fetched whenever no more than ``newBatchThreshold``
  are still being processed.
- An empty queue is polled again with exponential back-off up to ``maxPollingInterval``;
  finding messages resets the back-off.
- A message is held invisible (renewed) while its function runs. Success deletes it; a
  failure makes it visible again after ``visibilityTimeout``; a failure when its dequeue
  count has reached ``maxDequeueCount`` moves it to the poison queue (``<queue>-poison`` for
  a queue trigger).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueMessage as SdkQueueMessage
from azure.storage.queue.aio import QueueClient

from devhost.config import QueueOptions
from devhost.functions import FunctionSpec, Invoker, OutageLog
from devhost.storage import POLLER_CLIENT_OPTIONS

log = logging.getLogger("devhost.queue")

MIN_POLL_INTERVAL = 0.1
# How long a message is leased for while its function runs, renewed at half that.
LEASE_SECONDS = 60


@dataclass
class _Lease:
    message_id: str
    pop_receipt: str


def decode_body(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.b64decode(content, validate=True)
    return content.encode("utf-8")


def encode_body(text: str, encoding: str) -> str:
    if encoding == "base64":
        return base64.b64encode(text.encode("utf-8")).decode("ascii")
    return text


# Handles one delivery of a message (its decoded body); raising means the attempt failed.
Handler = Callable[[SdkQueueMessage, bytes], Awaitable[None]]


def queue_trigger_runner(spec: FunctionSpec, queue_name: str, conn_str: str,
                         options: QueueOptions, invoke: Invoker) -> QueueListener:
    async def handle(message: SdkQueueMessage, body: bytes) -> None:
        argument = QueueMessage(
            id=message.id, body=body, dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on, expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on, pop_receipt=message.pop_receipt,
        )
        await invoke(spec, {spec.arg_name: argument})

    return QueueListener(spec.name, queue_name, f"{queue_name}-poison", conn_str, options,
                         handle)


class QueueListener:
    def __init__(self, name: str, queue_name: str, poison_name: str, conn_str: str,
                 options: QueueOptions, handle: Handler) -> None:
        self.name = name
        self.handle = handle
        self.queue_name = queue_name
        self.poison_name = poison_name
        self.options = options
        self._client = QueueClient.from_connection_string(conn_str, queue_name,
                                                          **POLLER_CLIENT_OPTIONS)
        self._poison = QueueClient.from_connection_string(conn_str, poison_name,
                                                          **POLLER_CLIENT_OPTIONS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def _fields(self) -> dict[str, str]:
        return {"function": self.name, "queue": self.queue_name}

    async def run(self) -> None:
        await self._ensure_queues()
        log.info("queue trigger listening", extra={"fields": self._fields})
        delay = MIN_POLL_INTERVAL
        outage = OutageLog(log, "queue polling", self._fields)
        while True:
            await self._room.wait()
            try:
                messages = await self._receive()
                outage.succeeded()
            except Exception as exc:
                outage.failed(exc)
                messages = []
            if messages:
                delay = MIN_POLL_INTERVAL
                for message in messages:
                    self._spawn(message)
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(self.options.max_polling_interval, MIN_POLL_INTERVAL))

    async def close(self, grace: float = 5.0) -> None:
        """Let running invocations finish (bounded), then release the HTTP sessions."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        await self._client.close()
        await self._poison.close()

    async def _ensure_queues(self) -> None:
        for client in (self._client, self._poison):
            with contextlib.suppress(ResourceExistsError):
                await client.create_queue()

    async def _receive(self) -> list[SdkQueueMessage]:
        count = self.options.batch_size
        pages = self._client.receive_messages(
            messages_per_page=count, max_messages=count, visibility_timeout=LEASE_SECONDS
        )
        return [message async for message in pages]

    def _spawn(self, message: SdkQueueMessage) -> None:
        task = asyncio.create_task(self._process(message))
        self._tasks.add(task)
        if len(self._tasks) > self.options.new_batch_threshold:
            self._room.clear()
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if len(self._tasks) <= self.options.new_batch_threshold:
            self._room.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("queue message handling failed", exc_info=task.exception(),
                      extra={"fields": self._fields})

    async def _process(self, message: SdkQueueMessage) -> None:
        lease = _Lease(message.id, str(message.pop_receipt))
        dequeue_count = int(message.dequeue_count or 1)
        fields: dict[str, object] = {**self._fields, "message_id": message.id,
                                     "dequeue_count": dequeue_count}
        # A count already past the limit means a host died mid-run on the last attempt.
        if dequeue_count > self.options.max_dequeue_count:
            await self._to_poison(message, lease, fields)
            return
        try:
            body = decode_body(message.content, self.options.message_encoding)
        except (binascii.Error, ValueError):
            log.error("message is not valid base64", extra={"fields": fields})
            await self._to_poison(message, lease, fields)
            return
        if await self._run_function(message, body, lease, fields):
            await self._client.delete_message(lease.message_id, lease.pop_receipt)
        elif dequeue_count >= self.options.max_dequeue_count:
            await self._to_poison(message, lease, fields)
        else:
            await self._client.update_message(
                lease.message_id, pop_receipt=lease.pop_receipt,
                visibility_timeout=int(self.options.visibility_timeout),
            )

    async def _run_function(self, message: SdkQueueMessage, body: bytes, lease: _Lease,
                            fields: dict[str, object]) -> bool:
        renewer = asyncio.create_task(self._renew(lease))
        try:
            await self.handle(message, body)
        except Exception:
            log.exception("queue function failed", extra={"fields": fields})
            return False
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        log.info("queue function succeeded", extra={"fields": fields})
        return True

    async def _renew(self, lease: _Lease) -> None:
        """Keep the message invisible while a long function runs (the host does the same)."""
        while True:
            await asyncio.sleep(LEASE_SECONDS / 2)
            try:
                updated = await self._client.update_message(
                    lease.message_id, pop_receipt=lease.pop_receipt,
                    visibility_timeout=LEASE_SECONDS,
                )
            except ResourceNotFoundError:
                return
            lease.pop_receipt = str(updated.pop_receipt)

    async def _to_poison(self, message: SdkQueueMessage, lease: _Lease,
                         fields: dict[str, object]) -> None:
        # The raw (still encoded) content is copied, so a poison consumer decodes it alike.
        await self._poison.send_message(message.content)
        await self._client.delete_message(lease.message_id, lease.pop_receipt)
        log.warning("message moved to poison queue",
                    extra={"fields": {**fields, "poison_queue": self.poison_name}})
