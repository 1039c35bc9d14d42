"""The specification's chunk protocol through the devhost: init, chunks in any order (1-based
indices), the status route, completion into a file like any other, and every refusal."""

from __future__ import annotations

import hashlib
import random

import pytest

from shared.crypto.frames import FRAME_SIZE
from tests.integration.helpers import assert_error, png
from tests.integration.resumable import chunk_of, init, put_chunk, send_all, session_of, status

KiB = 1024


def _download(api, headers, file_id: str) -> bytes:
    response = api.get(f"/api/v1/storage/download/{file_id}", headers=headers,
                       follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.content


def test_init_answers_the_specification_shape_and_adjusts_the_chunk_size(api, auth_headers,
                                                                        user):
    response = init(api, auth_headers(user), 1_000_000, chunk_size=100_000)
    body = response.json()
    session = session_of(response)
    assert session["chunk_size"] % FRAME_SIZE == 0 and session["chunk_size"] >= 100_000
    assert session["chunk_size_adjusted"] is True and session["requested_chunk_size"] == 100_000
    assert session["total_chunks"] == -(-1_000_000 // session["chunk_size"])
    assert session["chunk_index_base"] == 1
    assert session["upload_url"].endswith("/api/v1/storage/upload/resumable/chunk")
    assert {"session_id", "expires_at"} <= set(session)
    assert body["file"]["status"] == "uploading" and body["file"]["progress"] == 0


@pytest.mark.parametrize("order", ["in_order", "reversed", "shuffled"])
def test_chunks_in_any_order_make_the_file(api, auth_headers, user, stores, order):
    headers = auth_headers(user)
    data = png(700 * KiB + 123)
    session = session_of(init(api, headers, len(data), chunk_size=128 * KiB))
    indices = list(range(1, session["total_chunks"] + 1))
    if order == "reversed":
        indices.reverse()
    elif order == "shuffled":
        random.Random(7).shuffle(indices)
    last = send_all(api, headers, session, data, indices).json()
    assert last["upload"]["status"] == "completed"
    assert last["upload"]["progress_percent"] == 100 and last["upload"]["chunks_remaining"] == 0
    record = last["file"]
    assert record["size_bytes"] == len(data) and record["mime_type"] == "image/png"
    assert record["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert record["checksum_md5"] == hashlib.md5(data).hexdigest()
    assert record["project_id"] == "proj_r"
    assert _download(api, headers, record["id"]) == data
    assert stores.blob_bytes(stores.path_of(record["id"])) == data
    listed = api.get("/api/v1/storage/files", headers=headers).json()["files"]
    assert [f["id"] for f in listed] == [record["id"]]
    assert status(api, headers, session).json()["upload_session"]["status"] == "completed"


def test_status_lists_what_is_held_and_missing(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(5 * 64 * KiB)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    for index in (4, 2):
        assert put_chunk(api, headers, session, index, chunk_of(data, session, index)
                         ).status_code == 200
    body = status(api, headers, session).json()
    assert body["chunks_received"] == [2, 4] and body["chunks_missing"] == [1, 3, 5]
    assert body["upload"]["bytes_received"] == 2 * 64 * KiB
    assert body["upload_session"]["status"] == "uploading"


def test_a_chunk_sent_again_is_idempotent_and_other_bytes_conflict(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(3 * 64 * KiB)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    first = put_chunk(api, headers, session, 2, chunk_of(data, session, 2))
    again = put_chunk(api, headers, session, 2, chunk_of(data, session, 2))
    assert first.status_code == again.status_code == 200
    assert again.json()["chunk"]["already_received"] is True
    assert again.json()["upload"]["chunks_uploaded"] == 1
    other = bytes(64 * KiB)
    assert_error(put_chunk(api, headers, session, 2, other), 409, "CHUNK_CONFLICT")
    assert status(api, headers, session).json()["chunks_received"] == [2]


def test_wrong_sizes_and_indices_are_refused(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(3 * 64 * KiB + 10)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    assert session["total_chunks"] == 4
    assert_error(put_chunk(api, headers, session, 1, data[:1000]), 400, "BAD_REQUEST")
    assert_error(put_chunk(api, headers, session, 4, data[-11:]), 400, "BAD_REQUEST")
    for index in (0, 5, -1):
        assert_error(put_chunk(api, headers, session, index, data[:10]), 400,
                     "VALIDATION_ERROR")
    assert status(api, headers, session).json()["chunks_received"] == []


def test_a_checksum_mismatch_is_422_and_the_chunk_is_not_kept(api, auth_headers, user):
    headers = auth_headers(user)
    data = png(2 * 64 * KiB)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    response = put_chunk(api, headers, session, 1, chunk_of(data, session, 1),
                         checksum="0" * 32)
    assert_error(response, 422, "CHECKSUM_MISMATCH")
    assert status(api, headers, session).json()["chunks_received"] == []
    send_all(api, headers, session, data)


def test_another_users_session_is_404(api, auth_headers, user):
    data = png(64 * KiB)
    session = session_of(init(api, auth_headers(user), len(data), chunk_size=64 * KiB))
    stranger = auth_headers(f"{user}-other")
    assert_error(put_chunk(api, stranger, session, 1, data), 404, "NOT_FOUND")
    assert_error(status(api, stranger, session), 404, "NOT_FOUND")
    assert_error(api.get("/api/v1/storage/upload/resumable/not-a-uuid",
                         headers=auth_headers(user)), 404, "NOT_FOUND")


def test_chunks_sent_in_parallel_make_the_file(api, base_url, auth_headers, user):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    headers = auth_headers(user)
    data = png(12 * 64 * KiB + 5)
    session = session_of(init(api, headers, len(data), chunk_size=64 * KiB))
    indices = list(range(1, session["total_chunks"] + 1))

    def send(lane: list[int]) -> list[dict]:
        with httpx.Client(base_url=base_url, timeout=60) as own:
            return [put_chunk(own, headers, session, i, chunk_of(data, session, i)).json()
                    for i in lane]

    with ThreadPoolExecutor(3) as pool:
        answers = [a for lane in pool.map(send, [indices[i::3] for i in range(3)])
                   for a in lane]
    files = [a["file"] for a in answers if a.get("file")]
    assert files and files[0]["checksum_sha256"] == hashlib.sha256(data).hexdigest()
    assert _download(api, headers, files[0]["id"]) == data
