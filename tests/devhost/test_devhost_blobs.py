"""Blob triggers driven by the devhost against real Azurite, with both sources' semantics.

- ``source="EventGrid"``: one BlobCreated event per new blob version, delivered at least once
  to the host's webhook with Event Grid's back-off and dead letter; behind the webhook, the
  host's blob queue (maxDequeueCount attempts, then webjobs-blobtrigger-poison).
- the default source (container scan): one run per blob version, with receipts.

The sample host.json sets visibilityTimeout 2 s and maxDequeueCount 3.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.blobqueue import host_queue_name
from devhost.eventgrid import subscription_queue_name
from devhost.hostprocess import DevhostProcess
from devhost.ports import StackPorts, free_ports
from devhost.stack import LocalStack
from tests.devhost.helpers import (
    MAX_DEQUEUE_COUNT,
    SAMPLE_APP,
    SAMPLE_CONTAINER,
    SAMPLE_HOST_JSON,
    VISIBILITY_TIMEOUT,
    Records,
    decoded_contents,
    wait_until,
    wait_until_deleted,
)

# Silenced in the hosts that test Event Grid's deliveries, so that only on_event runs there.
OTHER_FUNCTIONS = ("work", "on_blob", "on_scanned", "tick", "at_startup")


def test_a_blob_function_gets_the_sdk_client(
    sample_host: DevhostProcess, sample_container: Any, records: Records, unique: str,
) -> None:
    name = f"incoming/{unique}.txt"
    sample_container.upload_blob(name, b"hello")
    fired = records.wait_for(lambda found: len(found) == 1, "blob", name=name)
    assert fired[0]["content"] == "hello"
    assert fired[0]["client"] == "azure.storage.blob._blob_client.BlobClient"


def test_each_blob_version_runs_once_and_a_restart_runs_nothing_again(
    sample_host: DevhostProcess, sample_container: Any, blob_service: BlobServiceClient,
    queue_client: Callable[[str], QueueClient], records: Records, unique: str,
) -> None:
    event, scanned = f"events/{unique}-a.txt", f"scanned/{unique}-a.txt"
    sample_container.upload_blob(event, b"first")
    sample_container.upload_blob(scanned, b"first")
    sample_container.upload_blob(f"elsewhere/{unique}.txt", b"not under a trigger's path")
    records.wait_for(lambda found: len(found) == 1, "event", name=event)
    records.wait_for(lambda found: len(found) == 1, "scanned", name=scanned)
    hosts = blob_service.get_container_client("azure-webjobs-hosts")
    wait_until(lambda: any(blob.name.endswith(f"/{SAMPLE_CONTAINER}/{scanned}") for blob in
                           hosts.list_blobs(name_starts_with="blobreceipts/")),
               "the scanned blob's receipt")

    sample_host.restart()
    later_event, later_scanned = f"events/{unique}-b.txt", f"scanned/{unique}-b.txt"
    sample_container.upload_blob(later_event, b"after restart")
    sample_container.upload_blob(later_scanned, b"after restart")
    records.wait_for(lambda found: len(found) == 1, "event", name=later_event)
    records.wait_for(lambda found: len(found) == 1, "scanned", name=later_scanned)
    # The scans that found the later blobs saw the earlier ones too; anything they published
    # again would be in these queues, which empty once every run is done.
    wait_until_deleted(queue_client(subscription_queue_name("on_event", SAMPLE_CONTAINER)))
    wait_until_deleted(queue_client(host_queue_name()))

    assert len(records.all("event", name=event)) == 1
    assert len(records.all("scanned", name=scanned)) == 1
    assert not [entry for entry in records.all() if "elsewhere/" in str(entry.get("name"))]


def test_an_overwritten_blob_is_a_new_event(
    sample_host: DevhostProcess, sample_container: Any, records: Records, unique: str,
) -> None:
    name = f"events/{unique}.txt"
    sample_container.upload_blob(name, b"v1")
    records.wait_for(lambda found: len(found) == 1, "event", name=name)
    sample_container.upload_blob(name, b"v2", overwrite=True)

    versions = records.wait_for(lambda found: len(found) == 2, "event", name=name)
    assert [entry["content"] for entry in versions] == ["v1", "v2"]


def test_a_failing_blob_function_is_retried_by_the_host_then_reported_as_poison(
    sample_host: DevhostProcess, sample_container: Any,
    queue_client: Callable[[str], QueueClient], records: Records, unique: str,
) -> None:
    name = f"incoming/{unique}-bad.txt"
    sample_container.upload_blob(name, b"fail please")

    poison = queue_client("webjobs-blobtrigger-poison")
    reports = wait_until(lambda: [body for body in decoded_contents(poison)
                                  if body["BlobName"] == name],
                         "a report on webjobs-blobtrigger-poison", timeout=30)
    # Reported after the last attempt: the count is final.
    attempts = records.all("blob", name=name)
    assert len(attempts) == MAX_DEQUEUE_COUNT
    gaps = [later["t"] - earlier["t"] for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= VISIBILITY_TIMEOUT - 0.5 for gap in gaps), gaps
    report = reports[0]
    assert report["FunctionId"] == "Host.Functions.on_blob"
    assert report["BlobType"] == "BlockBlob"
    assert report["ContainerName"] == SAMPLE_CONTAINER
    assert report["ETag"]


# -- Event Grid's own deliveries: the host's storage unreachable, the data account up


@pytest.fixture
def host_storage(service_dir: Callable[[str], Path]) -> Iterator[LocalStack]:
    """The host's own storage (AzureWebJobsStorage) as a second Azurite, not started: while it
    is down the webhook fails, as an unreachable host storage makes it fail in Azure."""
    stack = LocalStack(service_dir("host-storage"), StackPorts.free(), services=("azurite",))
    yield stack
    stack.stop()


@pytest.fixture
def event_grid_host(sample_env: dict[str, str], host_storage: LocalStack, tmp_path: Path,
                    unique: str) -> Iterator[Callable[..., DevhostProcess]]:
    started: list[DevhostProcess] = []

    def start(**settings: str) -> DevhostProcess:
        env = {**sample_env, "AzureWebJobsStorage": host_storage.azurite_connection_string,
               "SAMPLE_CONTAINER": f"eg-{unique}",
               "DEVHOST_LOG_FORMAT": "json",
               **{f"AzureWebJobs.{name}.Disabled": "true" for name in OTHER_FUNCTIONS},
               **settings}
        host = DevhostProcess(env, free_ports(1)[0], app=SAMPLE_APP, host_json=SAMPLE_HOST_JSON,
                              log_path=tmp_path / f"event-grid-{len(started)}.log")
        started.append(host.start())
        return host

    yield start
    for host in started:
        host.stop()


def log_entries(host: DevhostProcess, message: str, **fields: Any) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in host.log_text().splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry["msg"] == message
            and all(entry.get(key) == value for key, value in fields.items())]


def event_id_of(host: DevhostProcess, blob: str) -> str:
    published = wait_until(lambda: log_entries(host, "event published", blob=blob),
                           f"the event of {blob}")
    return str(published[0]["event_id"])


def at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()


def test_an_undeliverable_event_is_retried_with_back_off_then_dead_lettered(
    event_grid_host: Callable[..., DevhostProcess], blob_service: BlobServiceClient,
    records: Records, unique: str,
) -> None:
    # Event Grid's schedule at a tenth: 1 s, then 3 s; three attempts in all.
    host = event_grid_host(DEVHOST_EVENTGRID_TIME_SCALE="0.1", DEVHOST_EVENTGRID_MAX_ATTEMPTS="3")
    container = blob_service.create_container(f"eg-{unique}")
    name = f"events/{unique}.txt"
    container.upload_blob(name, b"never delivered")
    event_id = event_id_of(host, name)
    dead = blob_service.get_container_client("eventgrid-deadletter")

    def dead_letters() -> list[tuple[str, dict[str, Any]]]:
        if not dead.exists():
            return []
        found = [(blob.name, json.loads(dead.download_blob(blob.name).readall()))
                 for blob in dead.list_blobs(name_starts_with="ON_EVENT/")]
        return [(path, entries[0]) for path, entries in found if entries[0]["id"] == event_id]

    [(path, entry)] = wait_until(dead_letters, "the dead letter", timeout=30)

    assert re.fullmatch(r"ON_EVENT/\d{4}/\d{1,2}/\d{1,2}/\d{1,2}/[0-9a-f-]{36}\.json", path)
    assert entry["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
    assert entry["deliveryAttempts"] == 3
    assert entry["lastHttpStatusCode"] == 500  # the webhook could not reach the host storage
    assert entry["eventType"] == "Microsoft.Storage.BlobCreated"
    assert entry["subject"] == f"/blobServices/default/containers/eg-{unique}/blobs/{name}"
    assert entry["data"]["url"].endswith(f"/eg-{unique}/{name}")
    retried = log_entries(host, "event delivery failed; retrying", event_id=event_id)
    [dead_lettered] = log_entries(host, "event dead-lettered", event_id=event_id)
    assert [entry["attempt"] for entry in retried] == [1, 2]
    assert at(retried[1]) - at(retried[0]) >= 1.0
    assert at(dead_lettered) - at(retried[1]) >= 3.0
    assert not records.all("event", name=name)


def test_an_event_is_retried_until_the_host_takes_it_then_runs_once(
    event_grid_host: Callable[..., DevhostProcess], host_storage: LocalStack,
    blob_service: BlobServiceClient, queue_client: Callable[[str], QueueClient],
    records: Records, unique: str,
) -> None:
    # Event Grid's schedule at a tenth: tries at 0, 1, 4, 10, 40, 100 s...
    host = event_grid_host(DEVHOST_EVENTGRID_TIME_SCALE="0.1")
    container = blob_service.create_container(f"eg-{unique}")
    name = f"events/{unique}.txt"
    container.upload_blob(name, b"delivered late")
    event_id = event_id_of(host, name)
    wait_until(lambda: len(log_entries(host, "event delivery failed; retrying",
                                       event_id=event_id)) >= 2,
               "two failed deliveries", timeout=30)
    host_storage.start()  # the host's storage is back (Azurite may take a while on a busy box)

    # The next try after that, on the schedule: within 100 s of the event at most.
    records.wait_for(lambda found: len(found) == 1, "event", name=name, timeout=120)
    wait_until_deleted(queue_client(subscription_queue_name("on_event", f"eg-{unique}")))
    [delivered] = log_entries(host, "event delivered", event_id=event_id)
    retried = log_entries(host, "event delivery failed; retrying", event_id=event_id)
    assert delivered["attempt"] == len(retried) + 1 >= 3
    assert at(retried[1]) - at(retried[0]) >= 1.0
    assert at(delivered) - at(retried[1]) >= 3.0
    assert [entry["content"] for entry in records.all("event", name=name)] == ["delivered late"]
