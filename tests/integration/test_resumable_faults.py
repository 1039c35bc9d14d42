"""Resumable uploads when things go wrong: the devhost killed (-9) in the middle of an upload
and restarted, two clients on one tus upload, encryption with chunks out of order, sessions
expired by the timer, and every refusal before and after the bytes."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import random
import signal
import threading

import httpx
import pytest
from tusclient import client as tus_client

from devhost.hostprocess import DevhostProcess
from devhost.ports import free_ports
from tests.integration.helpers import EXE, assert_error, png
from tests.integration.resumable import (
    RESUMABLE,
    chunk_of,
    init,
    put_chunk,
    send_all,
    session_of,
    status,
)
from tests.integration.tus_helpers import (
    TUS,
    RawPatch,
    V,
    create,
    location,
    offset,
    patch,
    wait_until,
)

KiB = 1024
KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(params=["plain", "encrypted"])
def killable(request, stack_env, tmp_path):
    """A devhost of this test's own, to kill with SIGKILL and start again on its port."""
    port = free_ports(1)[0]
    env = {**stack_env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "AzureWebJobs.backup_new_blob.Disabled": "true"}
    if request.param == "encrypted":
        env["ENCRYPTION_KEY"] = KEY
    host = DevhostProcess(env, port, log_path=tmp_path / "devhost.log").start()
    client = httpx.Client(base_url=host.url, timeout=60)
    yield host, client
    client.close()
    host.stop()


def kill_and_restart(host: DevhostProcess) -> None:
    assert host.pid is not None
    os.kill(host.pid, signal.SIGKILL)
    host.wait(10)
    host.start()


def downloaded(api: httpx.Client, headers, file_id: str) -> bytes:
    response = api.get(f"/api/v1/storage/download/{file_id}", headers=headers,
                       follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.content


def test_tus_upload_survives_kill_9(killable, auth_headers, user):
    host, api = killable
    headers = auth_headers(user)
    data = png(4 * 1024 * KiB + 333)
    path = location(create(api, headers, len(data), filename="k.png", filetype="image/png"))
    raw = RawPatch(host.url, headers, path, 0, len(data))
    raw.send(data[:2 * 1024 * KiB + 5000])
    wait_until(lambda: offset(api, headers, path) >= 1024 * KiB, what="a block is recorded")
    kill_and_restart(host)
    raw.drop()
    held = offset(api, headers, path)
    assert 1024 * KiB <= held <= 2 * 1024 * KiB + 5000
    uploader = tus_client.TusClient(f"{host.url}{TUS}", headers=headers).uploader(
        file_stream=io.BytesIO(data), url=f"{host.url}{path}", chunk_size=700 * KiB)
    assert uploader.offset == held
    uploader.upload()
    file_id = api.head(path, headers={**headers, **V}).headers["x-file-id"]
    assert hashlib.sha256(downloaded(api, headers, file_id)).hexdigest() == \
        hashlib.sha256(data).hexdigest()


def test_chunk_upload_survives_kill_9(killable, auth_headers, user):
    host, api = killable
    headers = auth_headers(user)
    data = png(1024 * KiB + 99)
    session = session_of(init(api, headers, len(data), chunk_size=256 * KiB))
    send_all(api, headers, session, data, [3, 1])
    cut = httpx.Client(base_url=host.url, timeout=60)
    thread = threading.Thread(target=lambda: _slow_chunk(cut, headers, session, data, 2))
    thread.start()
    kill_and_restart(host)
    thread.join(30)
    cut.close()
    missing = status(api, headers, session).json()["chunks_missing"]
    assert missing == [2, 4, 5]  # chunk 2 was cut by the kill: nothing of it counts
    last = send_all(api, headers, session, data, missing).json()
    assert last["file"]["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert downloaded(api, headers, last["file"]["id"]) == data


def _slow_chunk(api: httpx.Client, headers, session, data: bytes, index: int) -> None:
    content = chunk_of(data, session, index)

    def trickle():
        for start in range(0, len(content), 16 * KiB):
            yield content[start:start + 16 * KiB]
            threading.Event().wait(0.05)

    with contextlib.suppress(httpx.HTTPError):  # the devhost is killed under it
        api.put(f"{RESUMABLE}/chunk", content=trickle(), headers={
            **headers, "X-Upload-Session": session["session_id"], "X-Chunk-Index": str(index),
            "Content-Length": str(len(content))})


def test_two_tuspy_clients_on_one_upload_never_corrupt_it(api, base_url, auth_headers, user):
    headers = auth_headers(user)
    data = png(2 * 1024 * KiB + 17)
    path = location(create(api, headers, len(data), filetype="image/png"))
    errors: list[BaseException] = []

    def client(seed: int) -> None:
        uploader = tus_client.TusClient(f"{base_url}{TUS}", headers=headers).uploader(
            file_stream=io.BytesIO(data), url=f"{base_url}{path}",
            chunk_size=random.Random(seed).choice([96 * KiB, 200 * KiB, 333 * KiB]),
            retries=200, retry_delay=0)
        try:
            uploader.upload()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    file_id = api.head(path, headers={**headers, **V}).headers["x-file-id"]
    assert hashlib.sha256(downloaded(api, headers, file_id)).hexdigest() == \
        hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def sealed(devhost_with) -> httpx.Client:
    return devhost_with(ENCRYPTION_KEY=KEY)


def test_encrypted_chunks_out_of_order_and_tus_with_unaligned_patches(sealed, auth_headers,
                                                                      user, stores):
    headers = auth_headers(user)
    data = png(5 * 64 * KiB + 1000)
    session = session_of(init(sealed, headers, len(data), chunk_size=64 * KiB))
    order = list(range(1, session["total_chunks"] + 1))
    random.Random(3).shuffle(order)
    record = send_all(sealed, headers, session, data, order).json()["file"]
    assert record["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert stores.sql("SELECT encryption_key_id FROM files WHERE id = %s",
                      (record["id"],))[0]["encryption_key_id"]
    assert data[:4096] not in stores.blob_bytes(stores.path_of(record["id"]))
    assert downloaded(sealed, headers, record["id"]) == data
    other = png(300 * KiB + 5)
    path = location(create(sealed, headers, len(other)))
    at = 0
    for size in (1000, 70_000, 1, 100_000, len(other)):
        piece = other[at:at + size]
        if not piece:
            break
        response = patch(sealed, headers, path, at, piece)
        assert response.status_code == 204, response.text
        at += len(piece)
    file_id = sealed.head(path, headers={**headers, **V}).headers["x-file-id"]
    assert downloaded(sealed, headers, file_id) == other


def test_the_timer_expires_sessions_and_releases_their_quota(api, auth_headers, user, stores,
                                                             run_maintenance):
    headers = auth_headers(user)
    data = png(256 * KiB)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    assert put_chunk(api, headers, session, 2, chunk_of(data, session, 2)).status_code == 200
    path = location(create(api, headers, 100 * KiB))
    assert patch(api, headers, path, 0, png(50 * KiB)).status_code == 204
    assert stores.leftovers(user).used_bytes == 356 * KiB
    stores.sql("UPDATE upload_sessions SET expires_at = now() - interval '1 minute'"
               " WHERE user_id = %s", (user,))
    run_maintenance()
    assert stores.leftovers(user).used_bytes == 0
    assert stores.sql("SELECT DISTINCT state FROM upload_sessions WHERE user_id = %s",
                      (user,)) == [{"state": "expired"}]
    assert_error(put_chunk(api, headers, session, 1, chunk_of(data, session, 1)), 410,
                 "UPLOAD_SESSION_EXPIRED")
    assert_error(status(api, headers, session), 410, "UPLOAD_SESSION_EXPIRED")
    assert api.head(path, headers={**headers, **V}).status_code == 410
    assert_error(patch(api, headers, path, 50 * KiB, b"x"), 410, "UPLOAD_SESSION_EXPIRED")


def test_refusals_before_any_byte(api, auth_headers, user, upload):
    headers = auth_headers(user)
    assert_error(init(api, headers, 7 * 1024 * KiB), 413, "FILE_TOO_LARGE")
    assert_error(init(api, headers, 1000, mime="application/x-msdownload"), 415,
                 "INVALID_FILE_TYPE")
    assert_error(create(api, headers, 7 * 1024 * KiB), 413, "FILE_TOO_LARGE")
    session_of(init(api, headers, 5 * 1024 * KiB))  # reserves 5 of the 8 MiB quota
    assert_error(init(api, headers, 4 * 1024 * KiB), 413, "QUOTA_EXCEEDED")
    assert_error(create(api, headers, 4 * 1024 * KiB), 413, "QUOTA_EXCEEDED")
    stored = png(10 * KiB)
    assert upload(user, stored, mime="image/png").status_code == 201
    known = hashlib.sha256(stored).hexdigest()
    body = assert_error(init(api, headers, len(stored), checksum_sha256=known), 409,
                        "DUPLICATE_FILE")
    assert body["details"]["existing_file_id"]
    assert_error(api.post(f"{RESUMABLE}/init", json={"filename": "x"}, headers=headers), 422,
                 "UNPROCESSABLE_ENTITY")
    assert_error(api.post(f"{RESUMABLE}/init", json={"filename": "a", "file_size": 1,
                                                     "mime_type": "image/png"}), 401,
                 "UNAUTHORIZED")


def test_the_sniffed_type_ends_the_session(api, auth_headers, user, stores):
    headers = auth_headers(user)
    data = EXE + bytes(128 * KiB - len(EXE))
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB,
                              mime="application/octet-stream"))
    assert_error(put_chunk(api, headers, session, 1, chunk_of(data, session, 1)), 415,
                 "INVALID_FILE_TYPE")
    assert_error(status(api, headers, session), 410, "UPLOAD_SESSION_EXPIRED")
    assert stores.leftovers(user).used_bytes == 0
    path = location(create(api, headers, len(data)))
    assert_error(patch(api, headers, path, 0, data), 415, "INVALID_FILE_TYPE")
    assert api.head(path, headers={**headers, **V}).status_code == 410
    assert stores.leftovers(user).used_bytes == 0


def test_refusals_at_completion_leave_nothing(api, auth_headers, user, stores, upload):
    headers = auth_headers(user)
    data = png(128 * KiB)
    wrong = hashlib.sha256(b"other").hexdigest()
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB,
                              checksum_sha256=wrong))
    assert put_chunk(api, headers, session, 1, chunk_of(data, session, 1)).status_code == 200
    assert_error(put_chunk(api, headers, session, 2, chunk_of(data, session, 2)), 422,
                 "CHECKSUM_MISMATCH")
    assert stores.leftovers(user).used_bytes == 0 and stores.leftovers(user).blobs == []
    assert upload(user, data, mime="image/png").status_code == 201
    used = stores.leftovers(user).used_bytes
    again = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    put_chunk(api, headers, again, 2, chunk_of(data, again, 2))
    assert_error(put_chunk(api, headers, again, 1, chunk_of(data, again, 1)), 409,
                 "DUPLICATE_FILE")
    left = stores.leftovers(user)
    assert left.used_bytes == used and left.rows == 1 and len(left.blobs) == 1
