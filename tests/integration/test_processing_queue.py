"""The queue's rules, on the real stack: a message delivered twice does the work once, a
worker that died is taken over, the timer reaps what nobody runs, a message that keeps
failing ends in the poison queue and its transformation failed, a trashed source cancels its
jobs and takes its variants along (and back), and every media limit ends a job failed."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy
from PIL import Image

from shared.aio import close_loop_resources
from shared.settings import get_settings
from tests import media_samples as samples
from tests.integration.processing import Pipeline

QUEUE = "transformations"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def pipeline(api, auth_headers, upload) -> Pipeline:
    return Pipeline(api, auth_headers, upload)


@pytest.fixture(scope="module")
def queue(stack_env) -> Iterator[QueueClient]:
    client = QueueClient.from_connection_string(
        stack_env["AzureWebJobsStorage"], QUEUE, message_encode_policy=TextBase64EncodePolicy())
    yield client
    client.close()


def _send(queue: QueueClient, transform_id: str) -> None:
    queue.send_message(json.dumps({"transformation_id": transform_id}))


def _insert(stores, source: dict, *, status: str = "queued", params: dict | None = None,
            beat_ago: timedelta = timedelta(0), attempts: int = 0,
            kind: str = "thumbnail_generation") -> str:
    rows = stores.sql(
        "INSERT INTO file_transformations (source_file_id, transformation_type,"
        " transformation_params, status, user_id, requested_role, output_name, attempts,"
        " heartbeat_at, started_at) VALUES (%s, %s, %s, %s, %s, 'user', 'made.jpg', %s,"
        " now() - %s, CASE WHEN %s = 'processing' THEN now() END) RETURNING id::text AS id",
        (source["id"], kind, json.dumps(params or {}), status, source["user_id"], attempts,
         beat_ago, status))
    return str(rows[0]["id"])


def _row(stores, transform_id: str) -> dict:
    return stores.sql("SELECT status, attempts, error_code, error_message,"
                      " target_file_id::text AS target FROM file_transformations"
                      " WHERE id = %s", (transform_id,))[0]


def _live_files(stores, user: str) -> int:
    return int(stores.sql("SELECT count(*) AS n FROM files WHERE user_id = %s"
                          " AND deleted_at IS NULL", (user,))[0]["n"])


def test_a_message_delivered_twice_does_the_work_once(pipeline, user, tmp_path, stores, queue):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg", (300, 200)), "image/jpeg")
    asked = pipeline.ask(user, source["id"], "thumbnail_generation").json()["transformation"]
    for _ in range(3):
        _send(queue, asked["id"])
    done = pipeline.ended(user, asked["id"])
    assert done["transformation"]["status"] == "completed"
    time.sleep(3)  # the duplicates are taken and dropped
    assert _row(stores, asked["id"])["attempts"] == 1
    assert _live_files(stores, user) == 2  # the source and one thumbnail


def test_a_dead_workers_job_is_taken_over_and_the_timer_reaps(pipeline, user, tmp_path, stores,
                                                              queue, run_maintenance, wait_for):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg", (300, 200)), "image/jpeg")
    # its worker died a while ago: the message, delivered again, takes it over
    dead = _insert(stores, source, status="processing", params={"width": 100, "height": 100},
                   beat_ago=timedelta(minutes=10), attempts=1)
    _send(queue, dead)
    wait_for(lambda: _row(stores, dead)["status"] == "completed", timeout=60, what="takeover")
    row = _row(stores, dead)
    assert row["attempts"] == 2
    image = Image.open(io.BytesIO(pipeline.download(user, row["target"])))
    assert max(image.size) == 100

    # running elsewhere right now: a second delivery leaves it alone
    busy = _insert(stores, source, status="processing", params={"width": 64, "height": 64},
                   attempts=1)
    _send(queue, busy)
    time.sleep(4)
    assert _row(stores, busy)["status"] == "processing" and _row(stores, busy)["attempts"] == 1
    # its worker never beats again; tried too often already: the timer ends it or retries it
    spent = _insert(stores, source, status="processing", beat_ago=timedelta(minutes=10),
                    attempts=5)
    later = datetime.now(UTC) + timedelta(minutes=10)
    run_maintenance(clock=lambda: later)
    assert _row(stores, spent)["status"] == "failed"
    assert "5 attempts" in _row(stores, spent)["error_message"]
    wait_for(lambda: _row(stores, busy)["status"] == "completed", timeout=60, what="reaped")
    assert _row(stores, busy)["attempts"] == 2


def test_a_message_that_keeps_failing_ends_in_the_poison_queue(pipeline, user, tmp_path,
                                                               stores, wait_for):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg"), "image/jpeg")
    # the store loses it: every try fails
    stores.container.delete_blob(stores.path_of(source["id"]))
    asked = pipeline.ask(user, source["id"], "thumbnail_generation").json()["transformation"]
    wait_for(lambda: _row(stores, asked["id"])["status"] == "failed", timeout=180,
             what="poison")
    failed = pipeline.status(user, asked["id"])["transformation"]
    assert failed["error_code"] == "TRANSFORMATION_FAILED"
    assert failed["error_message"].startswith("gave up after 5 attempts")
    assert _live_files(stores, user) == 1


def test_trashing_a_source_cancels_its_jobs_and_takes_its_variants(pipeline, user, tmp_path,
                                                                   stores, queue, wait_for):
    photo = samples.photo(tmp_path / "p.jpg", (300, 200))
    source = pipeline.upload(user, photo, "image/jpeg", auto_transform=True)
    wait_for(lambda: pipeline.detail(user, source["id"])["metadata"].get("processing", {})
             .get("thumbnails_generated"), timeout=60, what="thumbnail")
    thumb = pipeline.detail(user, source["id"])["transformations"][0]["output_file_id"]
    waiting = _insert(stores, source)  # queued, its message not yet delivered
    headers = pipeline.auth(user)
    files = "/api/v1/storage/files"

    used = _used(stores, user)  # the source and its thumbnail
    assert used > source["size_bytes"]
    trashed = pipeline.api.delete(f"{files}/{source['id']}", headers=headers).json()
    assert trashed["storage_freed_bytes"] == 0  # the trash counts until it is purged
    assert _row(stores, waiting)["status"] == "failed"
    assert _row(stores, waiting)["error_code"] == "CANCELLED"
    _send(queue, waiting)
    time.sleep(3)
    assert _row(stores, waiting)["attempts"] == 0 and _live_files(stores, user) == 0
    assert _used(stores, user) == used

    restored = pipeline.api.post(f"{files}/{source['id']}/restore", headers=headers)
    assert restored.status_code == 200, restored.text
    assert _live_files(stores, user) == 2
    assert pipeline.api.get(f"{files}/{thumb}", headers=headers).json()["file"]["deleted_at"] \
        is None

    gone = pipeline.api.delete(f"{files}/{source['id']}", params={"permanent": "true"},
                               headers=headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()["storage_freed_bytes"] == used  # the thumbnail's bytes too
    assert stores.sql("SELECT count(*) AS n FROM files WHERE user_id = %s", (user,))[0]["n"] == 0
    assert _used(stores, user) == 0
    assert stores.blobs(f"users/{user}/") == []


def _used(stores, user: str) -> int:
    return stores.sql("SELECT used_bytes FROM storage_usage WHERE user_id = %s",
                      (user,))[0]["used_bytes"]


def _run_worker(app_functions, transform_id: str, **settings: object) -> None:
    function = app_functions["transform_worker"].get_user_function()

    async def invoke() -> None:
        try:
            await function(func.QueueMessage(
                id="in-process", body=json.dumps({"transformation_id": transform_id})))
        finally:
            await close_loop_resources()

    # The instance's context is rebuilt from the settings when they change.
    saved = dict(os.environ)
    os.environ.update({name.upper(): str(value) for name, value in settings.items()})
    get_settings.cache_clear()
    try:
        asyncio.run(invoke())
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


@pytest.mark.parametrize(("limit", "value", "sample", "kind", "says"), [
    ("media_max_pdf_pages", 1, "pdf", "text_extraction", "pages"),
    ("media_max_output_size", 100, "photo", "thumbnail_generation", "output"),
    ("media_max_pixels", 1000, "photo", "thumbnail_generation", "pixels"),
    ("media_max_source_size", 10, "photo", "thumbnail_generation", "source_bytes"),
    ("media_max_video_seconds", 0.5, "clip", "thumbnail_generation", "lasts"),
    ("media_job_timeout", 0.001, "clip", "video_format_conversion", "time limit"),
    ("media_max_frames", 2, "gif", "thumbnail_generation", "frames"),
    ("media_max_video_pixels", 10_000, "clip", "video_format_conversion", "pixels a frame"),
    ("media_max_unpacked_size", 1000, "docx", "text_extraction", "unpacks"),
])
def test_every_limit_ends_the_job_failed(pipeline, user, tmp_path, stores, app_functions,
                                         devhost_with, limit, value, sample, kind, says):
    made = {"pdf": lambda: (samples.text_pdf(tmp_path / "a.pdf", [["un"], ["deux"]]),
                            "application/pdf"),
            "photo": lambda: (samples.photo(tmp_path / "p.jpg", (300, 200)), "image/jpeg"),
            "gif": lambda: (samples.animated_gif(tmp_path / "a.gif", frames=5), "image/gif"),
            "docx": lambda: (samples.docx_file(tmp_path / "d.docx", ["mot"] * 50), DOCX),
            "clip": lambda: (samples.clip(tmp_path / "c.mp4"), "video/mp4")}[sample]
    path, mime = made()
    wide = devhost_with(ALLOWED_MIME_TYPES=f"application/pdf,image/jpeg,image/gif,{DOCX}") \
        if sample == "docx" else None
    source = pipeline.upload(user, path, mime, client=wide)
    params = {"format": "webm"} if kind == "video_format_conversion" else {}
    job = _insert(stores, source, kind=kind, params=params)
    _run_worker(app_functions, job, **{limit: value})
    row = _row(stores, job)
    assert row["status"] == "failed", row
    assert row["error_code"] == "TRANSFORMATION_FAILED" and says in row["error_message"], row
    assert _live_files(stores, user) == 1  # nothing was stored


def test_the_timer_describes_a_file_whose_event_was_lost(pipeline, user, tmp_path, stores,
                                                         run_maintenance, wait_for):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg", (120, 90)), "image/jpeg")
    wait_for(lambda: "extraction" in pipeline.detail(user, source["id"])["metadata"],
             what="metadata")
    stores.sql("DELETE FROM file_metadata WHERE file_id = %s", (source["id"],))  # lost
    later = datetime.now(UTC) + timedelta(minutes=15)
    run_maintenance(clock=lambda: later)
    metadata = pipeline.detail(user, source["id"])["metadata"]
    assert metadata["dimensions"] == {"width": 120, "height": 90}
    assert metadata["extraction"]["status"] == "done"
