"""Blob triggers: what both kinds share (the path pattern, the argument the function gets,
the host's blob-trigger message), and the polling kind (``LogsAndContainerScan``, the
default source) with the real host's receipts and poison rule. The ``EventGrid`` source is
``devhost.eventgrid`` (the events) and ``devhost.blobqueue`` (the host's side).

A blob fires once per version (name + ETag). Receipts are blobs in ``azure-webjobs-hosts``
under ``blobreceipts/`` as the real host keeps them, so they live and die with the storage
data and a restart never fires old blobs again. A failing blob is retried up to
``maxDequeueCount`` times in all (host.json ``queues``, as the host's internal queue does),
``visibilityTimeout`` apart, then reported on ``webjobs-blobtrigger-poison``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.blob import InputStream
from azure.storage.blob import BlobServiceClient
from azure.storage.blob.aio import BlobServiceClient as AsyncBlobServiceClient
from azure.storage.queue.aio import QueueClient

from devhost.config import QueueOptions
from devhost.functions import FunctionSpec, Invoker, OutageLog
from devhost.queues import encode_body
from devhost.storage import POLLER_CLIENT_OPTIONS

log = logging.getLogger("devhost.blob")

RECEIPTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"
DEFAULT_POLL_SECONDS = 1.0
MAX_CONCURRENT = 8


@dataclass(frozen=True)
class BlobPath:
    """``container/prefix{name}`` from the trigger's path, as a matcher of blob names."""

    container: str
    prefix: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, path: str) -> BlobPath:
        container, _, blob_part = path.strip("/").partition("/")
        if not container or "{" in container:
            raise ValueError(f"blob trigger path needs a literal container: {path!r}")
        prefix = blob_part.split("{", 1)[0]
        regex, position = "", 0
        for match in re.finditer(r"\{([^{}]+)\}", blob_part):
            regex += re.escape(blob_part[position:match.start()])
            regex += f"(?P<{match.group(1)}>.+)" if match.end() == len(blob_part) else "(.+?)"
            position = match.end()
        regex += re.escape(blob_part[position:])
        return cls(container, prefix, re.compile(f"^{regex or '.+'}$"))

    def matches(self, blob_name: str) -> bool:
        return bool(self.pattern.match(blob_name))


def poll_seconds() -> float:
    return float(os.environ.get("DEVHOST_BLOB_POLL_SECONDS", DEFAULT_POLL_SECONDS))


def host_id() -> str:
    return os.environ.get("AzureFunctionsWebHost__hostid", "devhost")  # noqa: SIM112


def function_id(function_name: str) -> str:
    return f"Host.Functions.{function_name}"


def trigger_message(function_name: str, container: str, blob_name: str, etag: str) -> str:
    """The host's BlobTriggerMessage (its shared blob queue and poison queue carry these)."""
    return json.dumps({
        "Type": "BlobTrigger",
        "FunctionId": function_id(function_name),
        "BlobType": "BlockBlob",
        "ContainerName": container,
        "BlobName": blob_name,
        "ETag": f'"{etag.strip(chr(34))}"',
    })


def blob_argument(spec: FunctionSpec, conn_str: str, container: str, name: str) -> Any:
    """What the parameter's annotation asks for; the SDK-type binding gives a sync
    ``azure.storage.blob.BlobClient`` for ``azurefunctions...blob.BlobClient``."""
    service = BlobServiceClient.from_connection_string(conn_str)
    client = service.get_blob_client(container, name)
    wanted = spec.annotation(spec.arg_name)
    wanted_name = getattr(wanted, "__name__", "")
    if wanted_name == "ContainerClient":
        return service.get_container_client(container)
    if wanted_name == "StorageStreamDownloader":
        return client.download_blob()
    if wanted in (bytes, str, func.InputStream, InputStream):
        return _stream_or_bytes(client, wanted)
    return client


class BlobTriggerRunner:
    def __init__(self, spec: FunctionSpec, path: BlobPath, conn_str: str,
                 options: QueueOptions, invoke: Invoker) -> None:
        self.spec = spec
        self.name = spec.name
        self.invoke = invoke
        self.path = path
        self.options = options
        self._conn_str = conn_str
        self._service = AsyncBlobServiceClient.from_connection_string(
            conn_str, **POLLER_CLIENT_OPTIONS)
        self._poison = QueueClient.from_connection_string(conn_str, POISON_QUEUE,
                                                          **POLLER_CLIENT_OPTIONS)
        self._receipts: set[tuple[str, str]] = set()
        self._running: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    @property
    def _fields(self) -> dict[str, str]:
        return {"function": self.spec.name, "container": self.path.container}

    @property
    def _receipt_prefix(self) -> str:
        return f"blobreceipts/{host_id()}/{function_id(self.spec.name)}/"

    async def run(self) -> None:
        await self._load_receipts()
        log.info("blob trigger listening", extra={"fields": self._fields})
        outage = OutageLog(log, "blob listing", self._fields)
        while True:
            try:
                await self._scan()
                outage.succeeded()
            except ResourceNotFoundError:
                pass  # the container does not exist yet; provisioning creates it
            except Exception as exc:
                outage.failed(exc)
            await asyncio.sleep(poll_seconds())

    async def close(self, grace: float = 5.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        await self._service.close()
        await self._poison.close()

    async def _load_receipts(self) -> None:
        hosts = self._service.get_container_client(RECEIPTS_CONTAINER)
        with contextlib.suppress(ResourceExistsError):
            await hosts.create_container()
        prefix = self._receipt_prefix
        async for blob in hosts.list_blobs(name_starts_with=prefix):
            etag, _, rest = blob.name[len(prefix):].partition("/")
            container, _, name = rest.partition("/")
            if container == self.path.container:
                self._receipts.add((name, etag))

    async def _scan(self) -> None:
        container = self._service.get_container_client(self.path.container)
        async for blob in container.list_blobs(name_starts_with=self.path.prefix or None):
            key = (blob.name, str(blob.etag).strip('"'))
            if key in self._receipts or key in self._running:
                continue
            if not self.path.matches(blob.name):
                continue
            self._running.add(key)
            task = asyncio.create_task(self._fire(*key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fire(self, name: str, etag: str) -> None:
        fields = {**self._fields, "blob": name, "etag": etag}
        try:
            async with self._slots:
                for attempt in range(1, self.options.max_dequeue_count + 1):
                    if await self._attempt(name, {**fields, "attempt": attempt}):
                        break
                    if attempt < self.options.max_dequeue_count:
                        await asyncio.sleep(self.options.visibility_timeout)
                else:
                    await self._report_poison(name, etag, fields)
                await self._write_receipt(name, etag)
        except Exception:
            # No receipt: the next scan fires the blob again (at least once, like the host).
            log.exception("blob trigger bookkeeping failed", extra={"fields": fields})
        finally:
            self._running.discard((name, etag))

    async def _attempt(self, name: str, fields: dict[str, Any]) -> bool:
        try:
            argument = await asyncio.to_thread(blob_argument, self.spec, self._conn_str,
                                               self.path.container, name)
            await self.invoke(self.spec, {self.spec.arg_name: argument})
        except Exception:
            log.exception("blob function failed", extra={"fields": fields})
            return False
        log.info("blob function succeeded", extra={"fields": fields})
        return True

    async def _write_receipt(self, name: str, etag: str) -> None:
        receipt = f"{self._receipt_prefix}{etag}/{self.path.container}/{name}"
        hosts = self._service.get_container_client(RECEIPTS_CONTAINER)
        await hosts.upload_blob(receipt, b"", overwrite=True)
        self._receipts.add((name, etag))

    async def _report_poison(self, name: str, etag: str, fields: dict[str, Any]) -> None:
        message = trigger_message(self.spec.name, self.path.container, name, etag)
        with contextlib.suppress(ResourceExistsError):
            await self._poison.create_queue()
        await self._poison.send_message(encode_body(message, self.options.message_encoding))
        log.warning("blob reported on poison queue",
                    extra={"fields": {**fields, "poison_queue": POISON_QUEUE}})


def _stream_or_bytes(client: Any, wanted: Any) -> Any:
    data = client.download_blob().readall()
    if wanted is bytes:
        return data
    if wanted is str:
        return data.decode("utf-8")
    props = client.get_blob_properties()
    return InputStream(
        data=data, name=f"{client.container_name}/{client.blob_name}", uri=client.url,
        length=len(data), metadata=dict(props.metadata or {}),
    )
