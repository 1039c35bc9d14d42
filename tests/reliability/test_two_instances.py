"""Two devhost processes on one stack, as Azure scales out: every blob event (each instance's
Event Grid emulation publishes it, so it is delivered twice) backs up once, every queue
message is handled once, the timer's work is done once when both fire, and uploads whose
requests alternate between the instances complete."""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devhost.hostprocess import DevhostProcess
from tests.integration.helpers import png
from tests.integration.resumable import chunk_of, init, put_chunk, session_of
from tests.integration.tus_helpers import V, create, location, patch
from tests.reliability.conftest import OwnStack, until

API = "/api/v1/storage"
KiB = 1024


@pytest.fixture(scope="module")
def pair(own_stack) -> tuple[OwnStack, DevhostProcess, DevhostProcess]:
    own = own_stack(LIFECYCLE_SCHEDULE="*/2 * * * * *")  # both timers fire every 2 s
    return own, own.host, own.devhost()


@pytest.fixture
def clients(pair) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    own, first, second = pair
    with own.client(first) as a, own.client(second) as b:
        yield a, b


def logged(hosts: tuple[DevhostProcess, ...], pattern: str) -> list[str]:
    """Every match of ``pattern`` (its first group) in the hosts' logs."""
    found: list[str] = []
    for host in hosts:
        found += re.findall(pattern, host.log_text())
    return found


def upload(api: httpx.Client, headers: dict[str, str], data: bytes) -> dict:
    response = api.post(f"{API}/upload", headers=headers,
                        files={"file": ("f.png", data, "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["file"]


def test_each_blob_is_backed_up_once_though_delivered_twice(pair, clients, user):
    own, *hosts = pair
    headers = own.headers(user)
    files = [upload(clients[n % 2], headers, png(3 * KiB + n)) for n in range(6)]
    stores = own.stores()
    paths = {stores.path_of(record["id"]) for record in files}
    until(lambda: {row["state"] for row in stores.sql(
        "SELECT state FROM file_backups WHERE file_path = ANY(%s)", (list(paths),))} == {"done"},
        60, "every copy is done")
    time.sleep(3)  # the second deliveries arrive
    done = Counter(logged(tuple(hosts), r'msg="backup of (users/\S+): done"'))
    assert {path: done[path] for path in paths} == dict.fromkeys(paths, 1)
    skipped = Counter(logged(tuple(hosts), r'msg="backup of (users/\S+): skipped"'))
    assert sum(skipped[path] for path in paths) >= 1  # duplicates did arrive, and did nothing
    for record in files:
        assert hashlib.sha256(stores.s3_bytes(stores.path_of(record["id"]))).hexdigest() == \
            record["checksum_sha256"]


def test_each_queue_message_is_handled_by_one_instance(pair):
    own, *hosts = pair
    queue = QueueClient.from_connection_string(own.env["AzureWebJobsStorage"], "cdn-purge",
                                               message_encode_policy=TextBase64EncodePolicy())
    ids = [str(uuid.uuid4()) for _ in range(12)]
    for purge_id in ids:
        queue.send_message(json.dumps({"purge_id": purge_id}))
    pattern = r'msg="purge ([0-9a-f-]{36}): None"'
    until(lambda: set(ids) <= set(logged(tuple(hosts), pattern)), 60,
          "every message is handled")
    time.sleep(2)
    handled = Counter(logged(tuple(hosts), pattern))
    assert {purge_id: handled[purge_id] for purge_id in ids} == dict.fromkeys(ids, 1)


def test_the_timer_firing_on_both_instances_does_the_work_once(pair, clients, user):
    own, *hosts = pair
    headers = own.headers(user)
    ids = [upload(clients[0], headers, png(2 * KiB + n))["id"] for n in range(4)]
    for file_id in ids:
        assert clients[1].delete(f"{API}/files/{file_id}", headers=headers).status_code == 200
    own.stores().sql("UPDATE files SET recovery_deadline = now() - interval '1 day'"
                     " WHERE user_id = %s", (user,))
    until(lambda: not own.stores().sql("SELECT id FROM files WHERE user_id = %s", (user,)),
          60, "the trash is purged")
    until(lambda: logged(tuple(hosts), r'msg="lifecycle maintenance: (skipped)'), 30,
          "an instance skips a run the other holds")
    time.sleep(2.5)  # any run still going ends
    reports = logged(tuple(hosts), r"msg=\"lifecycle maintenance: \{'trash_purged': (\d+)")
    lines = logged(tuple(hosts), r'(msg="lifecycle maintenance.{0,80})')
    assert sum(map(int, reports)) == 4, lines  # each file purged by one run of one instance


def test_uploads_alternating_between_instances_complete(pair, clients, user):
    own, *_ = pair
    headers = own.headers(user)
    data = png(5 * 256 * KiB + 77)
    session = session_of(init(clients[0], headers, len(data), chunk_size=256 * KiB))
    last = None
    for index in range(1, session["total_chunks"] + 1):
        last = put_chunk(clients[index % 2], headers, session, index,
                         chunk_of(data, session, index))
        assert last.status_code == 200, last.text
    assert last is not None and last.json()["file"]["checksum_sha256"] == \
        hashlib.sha256(data).hexdigest()
    other = png(4 * 200 * KiB + 5)
    path = location(create(clients[1], headers, len(other)))
    for turn, at in enumerate(range(0, len(other), 200 * KiB)):
        response = patch(clients[turn % 2], headers, path, at, other[at:at + 200 * KiB])
        assert response.status_code == 204, response.text
    file_id = clients[0].head(path, headers={**headers, **V}).headers["x-file-id"]
    for api in clients:
        got = api.get(f"{API}/download/{file_id}", headers=headers, follow_redirects=True)
        assert got.status_code == 200 and got.content == other
