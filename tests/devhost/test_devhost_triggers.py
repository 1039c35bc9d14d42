"""Queue, blob and timer triggers driven by the devhost against real Azurite.

The sample host.json sets visibilityTimeout 2 s and maxDequeueCount 3.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.hostprocess import DevhostProcess
from devhost.stack import LocalStack
from tests.devhost.helpers import SAMPLE_CONTAINER, SAMPLE_QUEUE, Records, wait_until

VISIBILITY_TIMEOUT = 2.0
MAX_DEQUEUE_COUNT = 3


def send(queue: QueueClient, payload: dict[str, Any]) -> None:
    queue.send_message(base64.b64encode(json.dumps(payload).encode()).decode())


def decoded_contents(queue: QueueClient) -> list[dict[str, Any]]:
    return [json.loads(base64.b64decode(message.content))
            for message in queue.peek_messages(max_messages=32)]


def wait_until_deleted(queue: QueueClient) -> None:
    """Until no message is left in the queue, invisible ones included (a message the host
    meant to retry would still be counted): one deleted can never come back."""
    wait_until(lambda: queue.get_queue_properties().approximate_message_count == 0,
               f"queue {queue.queue_name} to be empty")


def test_message_that_keeps_failing_goes_to_poison_queue(
    sample_host: DevhostProcess, queue_client: Callable[[str], QueueClient], records: Records,
    unique: str,
) -> None:
    send(queue_client(SAMPLE_QUEUE), {"id": unique, "fail_times": 99})

    attempts = records.wait_for(lambda found: len(found) >= MAX_DEQUEUE_COUNT, "queue",
                                id=unique)
    poison = queue_client(f"{SAMPLE_QUEUE}-poison")
    wait_until(lambda: any(body["id"] == unique for body in decoded_contents(poison)),
               "the message on the poison queue")
    wait_until_deleted(queue_client(SAMPLE_QUEUE))

    assert [entry["dequeue_count"] for entry in attempts] == [1, 2, 3]
    assert {entry["outcome"] for entry in attempts} == {"fail"}
    # Each retry waited for the visibility timeout (Azurite's clock has 1 s granularity at
    # worst, hence the tolerance).
    gaps = [later["t"] - earlier["t"] for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= VISIBILITY_TIMEOUT - 0.5 for gap in gaps), gaps
    assert len(records.all("queue", id=unique)) == MAX_DEQUEUE_COUNT


def test_message_failing_once_is_processed_exactly_once(
    sample_host: DevhostProcess, queue_client: Callable[[str], QueueClient], records: Records,
    unique: str,
) -> None:
    send(queue_client(SAMPLE_QUEUE), {"id": unique, "fail_times": 1})

    records.wait_for(lambda found: any(entry["outcome"] == "ok" for entry in found), "queue",
                     id=unique)
    wait_until_deleted(queue_client(SAMPLE_QUEUE))

    outcomes = [(e["dequeue_count"], e["outcome"]) for e in records.all("queue", id=unique)]
    assert outcomes == [(1, "fail"), (2, "ok")]
    poisoned = decoded_contents(queue_client(f"{SAMPLE_QUEUE}-poison"))
    assert unique not in [body["id"] for body in poisoned]


def test_a_batch_of_messages_is_all_processed(
    sample_host: DevhostProcess, queue_client: Callable[[str], QueueClient], records: Records,
    unique: str,
) -> None:
    queue = queue_client(SAMPLE_QUEUE)
    ids = [f"{unique}-{n}" for n in range(10)]
    for message_id in ids:
        send(queue, {"id": message_id})
    records.wait_for(
        lambda found: {entry["id"] for entry in found} >= set(ids), "queue", outcome="ok",
    )
    processed = [entry["id"] for entry in records.all("queue") if entry["id"] in ids]
    assert sorted(processed) == sorted(ids)


def test_new_blob_fires_once_and_not_again_after_restart(
    sample_host: DevhostProcess, sample_container: Any, blob_service: BlobServiceClient,
    records: Records, unique: str,
) -> None:
    first = f"incoming/{unique}-a.txt"
    sample_container.upload_blob(first, b"hello")
    sample_container.upload_blob(f"elsewhere/{unique}.txt", b"not under the trigger path")

    fired = records.wait_for(lambda found: len(found) >= 1, "blob", name=first)
    assert fired[0]["content"] == "hello"
    assert fired[0]["client"] == "azure.storage.blob._blob_client.BlobClient"
    def receipt_written() -> bool:
        receipts = blob_service.get_container_client("azure-webjobs-hosts").list_blobs(
            name_starts_with="blobreceipts/")
        return any(blob.name.endswith(f"/{SAMPLE_CONTAINER}/{first}") for blob in receipts)

    wait_until(receipt_written, "the blob receipt")  # written just after the function ran

    sample_host.restart()
    second = f"incoming/{unique}-b.txt"
    sample_container.upload_blob(second, b"after restart")
    records.wait_for(lambda found: len(found) == 1, "blob", name=second)
    time.sleep(1.0)  # several more polls of the restarted host

    assert len(records.all("blob", name=first)) == 1
    assert len(records.all("blob", name=second)) == 1
    assert not [entry for entry in records.all("blob") if unique in entry["name"]
                and entry["name"].startswith("elsewhere/")]


def test_overwritten_blob_fires_again(
    sample_host: DevhostProcess, sample_container: Any, records: Records, unique: str,
) -> None:
    name = f"incoming/{unique}.txt"
    sample_container.upload_blob(name, b"v1")
    records.wait_for(lambda found: len(found) == 1, "blob", name=name)
    sample_container.upload_blob(name, b"v2", overwrite=True)

    versions = records.wait_for(lambda found: len(found) == 2, "blob", name=name)
    assert [entry["content"] for entry in versions] == ["v1", "v2"]


def test_failing_blob_is_retried_then_reported_on_poison_queue(
    sample_host: DevhostProcess, sample_container: Any,
    queue_client: Callable[[str], QueueClient], records: Records, unique: str,
) -> None:
    name = f"incoming/{unique}-bad.txt"
    sample_container.upload_blob(name, b"fail please")

    records.wait_for(lambda found: len(found) == MAX_DEQUEUE_COUNT, "blob", name=name,
                     timeout=20)
    poison = queue_client("webjobs-blobtrigger-poison")
    deadline = time.monotonic() + 10
    while True:
        reports = [body for body in decoded_contents(poison) if body["BlobName"] == name]
        if reports:
            break
        assert time.monotonic() < deadline, "no report on webjobs-blobtrigger-poison"
        time.sleep(0.2)

    report = reports[0]
    assert report["FunctionId"].endswith("on_blob")
    assert report["BlobType"] == "BlockBlob"
    assert report["ContainerName"] == SAMPLE_CONTAINER
    assert report["ETag"]
    time.sleep(1.0)
    assert len(records.all("blob", name=name)) == MAX_DEQUEUE_COUNT


def test_timer_fires_on_its_schedule(sample_host: DevhostProcess, records: Records) -> None:
    started = time.time()
    ticks = records.wait_for(
        lambda found: len([entry for entry in found if entry["t"] >= started]) >= 2, "timer",
        timeout=10,
    )
    recent = [entry for entry in ticks if entry["t"] >= started]
    assert all(entry["past_due"] is False for entry in recent)
    # '*/2 * * * * *': on even seconds, two seconds apart.
    assert 1.5 <= recent[1]["t"] - recent[0]["t"] <= 2.5
    assert records.all("startup_timer"), "runOnStartup timer did not fire at start-up"


def test_host_rides_out_a_storage_outage(
    sample_host: DevhostProcess, azurite: LocalStack,
    queue_client: Callable[[str], QueueClient], records: Records, unique: str,
) -> None:
    assert azurite.azurite is not None
    azurite.azurite.stop()
    try:
        wait_until(lambda: 'msg="queue polling failing' in sample_host.log_text(),
                   "the host to notice the outage")
        assert httpx.get(f"{sample_host.url}/health", timeout=5).status_code == 200
    finally:
        azurite.azurite.start()
    send(queue_client(SAMPLE_QUEUE), {"id": unique})

    records.wait_for(lambda found: len(found) == 1, "queue", id=unique, timeout=20)
    log = sample_host.log_text()
    # One line when polling starts failing and one when it recovers, not one per poll.
    assert log.count('msg="queue polling failing') == 1
    assert log.count('msg="queue polling recovered"') == 1
