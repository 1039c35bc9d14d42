"""Queue and timer triggers driven by the devhost against real Azurite (blob triggers:
test_devhost_blobs.py).

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
from azure.storage.queue import QueueClient

from devhost.hostprocess import DevhostProcess
from devhost.stack import LocalStack
from tests.devhost.helpers import (
    MAX_DEQUEUE_COUNT,
    SAMPLE_QUEUE,
    VISIBILITY_TIMEOUT,
    Records,
    decoded_contents,
    wait_until,
    wait_until_deleted,
)


def send(queue: QueueClient, payload: dict[str, Any]) -> None:
    queue.send_message(base64.b64encode(json.dumps(payload).encode()).decode())


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
    def work_queue_lines(message: str) -> list[str]:
        return [line for line in sample_host.log_text().splitlines()
                if f'msg="{message}' in line and "queue=sample-work" in line]

    assert azurite.azurite is not None
    azurite.azurite.stop()
    try:
        wait_until(lambda: work_queue_lines("queue polling failing"),
                   "the host to notice the outage")
        assert httpx.get(f"{sample_host.url}/health", timeout=5).status_code == 200
    finally:
        azurite.azurite.start()
    send(queue_client(SAMPLE_QUEUE), {"id": unique})

    records.wait_for(lambda found: len(found) == 1, "queue", id=unique, timeout=20)
    # One line when polling starts failing and one when it recovers, not one per poll.
    assert len(work_queue_lines("queue polling failing")) == 1
    assert len(work_queue_lines("queue polling recovered")) == 1
