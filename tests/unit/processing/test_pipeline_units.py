"""The processing pipeline on in-memory parts: a request recorded and queued, the worker's
claim, completion, cancellation and giving up, the timer's reaper, extraction on landing
(once, with auto_transform's defaults), and variants following their source."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid
from typing import Any, cast

import pytest
from PIL import Image

from shared.auth import Principal, Role
from shared.context import AppContext
from shared.errors import Forbidden, ValidationFailed
from shared.files import service
from shared.files.content import read_plain
from shared.processing import extraction, reaper, worker
from shared.processing.extraction import extract_for_blob
from shared.processing.models import TransformRequest
from shared.processing.requests import defaults_for, request_transformation
from tests.fakes.context import FakeClock, fake_context
from tests.fakes.database import FakeDatabase
from tests.fakes.queues import MemoryQueues

pytestmark = pytest.mark.anyio
ALICE = Principal("alice", Role.USER)
QUEUE = "transformations"


def _png(size: tuple[int, int] = (300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, format="PNG")
    return out.getvalue()


async def add(ctx: AppContext, content: bytes, mime: str = "image/png", **values: Any) -> dict:
    file_id = str(uuid.uuid4())
    path = f"users/alice/{file_id}.png"
    writer = await ctx.stores.primary.writer(path)
    await writer.write(content)
    await writer.commit(content_type=mime)
    async with ctx.db.transaction() as repo:
        await repo.usage.reserve("alice", len(content), None)
        row = await repo.files.insert({
            "id": file_id, "user_id": "alice", "original_name": "pic.png", "file_path": path,
            "file_type": "image", "mime_type": mime, "size_bytes": len(content),
            "checksum_md5": hashlib.md5(content).hexdigest(),
            "storage_provider": ctx.stores.primary.name,
            "checksum_sha256": hashlib.sha256(content).hexdigest(), **values})
    cast(FakeClock, ctx.clock).advance(seconds=1)
    return row


def messages(ctx: AppContext) -> list[bytes]:
    return [m.encode() for m in cast(MemoryQueues, ctx.queues).messages[QUEUE]]


@pytest.fixture
def ctx(tmp_path) -> AppContext:
    return fake_context(temp_storage_path=str(tmp_path / "work"))


async def test_a_request_is_recorded_queued_and_run_once(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    accepted = await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="image_resize",
        parameters={"width": 150}, output_name="small.png"))
    t = accepted.transformation
    assert t.status == "queued" and accepted.queue_position == 1
    assert t.parameters["quality"] == 85 and t.estimated_completion is not None
    [body] = messages(ctx)
    assert json.loads(body) == {"transformation_id": t.id}

    assert await worker.handle_message(ctx, body) == "completed"
    assert await worker.handle_message(ctx, body) == "skipped"  # delivered twice
    detail = await service.file_detail(ctx, ALICE, source["id"])
    [summary] = detail.transformations
    assert summary.status == "completed" and summary.progress_percent == 100
    output = await service.file_detail(ctx, ALICE, str(summary.output_file_id))
    assert output.file.original_name == "small.png" and output.file.user_id == "alice"
    async with ctx.db.connection() as repo:
        used = await repo.usage.used_bytes("alice")
    assert used == source["size_bytes"] + output.file.size_bytes


async def test_refusals_record_nothing(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    with pytest.raises(Forbidden) as forbidden:
        await request_transformation(ctx, ALICE, TransformRequest(
            source_file_id=source["id"], transformation_type="ocr"))
    assert forbidden.value.details["required_role"] == "premium"
    with pytest.raises(ValidationFailed) as invalid:
        await request_transformation(ctx, ALICE, TransformRequest(
            source_file_id=source["id"], transformation_type="image_resize",
            parameters={"width": 0}))
    assert invalid.value.details["field"] == "parameters.width"
    assert cast(FakeDatabase, ctx.db).tables.transformations == [] and messages(ctx) == []


async def test_a_trashed_source_cancels_and_takes_its_variants(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    done = await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="thumbnail_generation"))
    await worker.handle_message(ctx, messages(ctx)[0])
    waiting = await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="image_compression"))
    async with ctx.db.connection() as repo:
        used = await repo.usage.used_bytes("alice")  # the source and its thumbnail
    assert used > source["size_bytes"]
    deleted = await service.delete_file(ctx, ALICE, source["id"], permanent=False)
    assert deleted.storage_freed_bytes == 0  # the trash counts until it is purged
    assert await worker.handle_message(ctx, messages(ctx)[1]) == "skipped"
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(waiting.transformation.id)
        assert row is not None and row["error_code"] == "CANCELLED"
        [variant] = await repo.processing.variants(source["id"])
        assert variant["deleted_at"] is not None
        assert await repo.usage.used_bytes("alice") == used
    await service.restore_file(ctx, ALICE, source["id"])
    async with ctx.db.connection() as repo:
        [variant] = await repo.processing.variants(source["id"])
        assert variant["deleted_at"] is None
    gone = await service.delete_file(ctx, ALICE, source["id"], permanent=True)
    assert gone.storage_freed_bytes == used  # the thumbnail's bytes too
    assert cast(FakeDatabase, ctx.db).tables.files == {}
    async with ctx.db.connection() as repo:
        assert await repo.usage.used_bytes("alice") == 0
    assert done.transformation.id  # its row went with the source (ON DELETE CASCADE)


async def test_an_error_gives_the_claim_back_and_poison_ends_it(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    await ctx.stores.primary.delete(source["file_path"])  # every try fails
    accepted = await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="thumbnail_generation"))
    body = messages(ctx)[0]
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017 - whatever the store raises
            await worker.handle_message(ctx, body)
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(accepted.transformation.id)
    assert row is not None and (row["status"], row["attempts"]) == ("queued", 2)
    assert await worker.give_up(ctx, body) == "failed"
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(accepted.transformation.id)
    assert row is not None and row["status"] == "failed"
    assert row["error_message"].startswith("gave up after 2 attempts")
    assert await worker.give_up(ctx, body) == "skipped"
    assert await worker.handle_message(ctx, b"not json") == "skipped"


async def test_the_reaper_requeues_then_gives_up(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    accepted = await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="thumbnail_generation"))
    tid = accepted.transformation.id
    clock = cast(FakeClock, ctx.clock)
    assert await reaper.reap_stale(ctx) == {"requeued": 0, "failed": 0}
    clock.advance(minutes=6)
    assert await reaper.reap_stale(ctx) == {"requeued": 1, "failed": 0}
    assert len(messages(ctx)) == 2
    async with ctx.db.connection() as repo:
        row = await repo.processing.get(tid)
        assert row is not None
        row_ref = next(t for t in cast(FakeDatabase, ctx.db).tables.transformations
                       if t["id"] == tid)
        row_ref["attempts"] = reaper.MAX_ATTEMPTS
    clock.advance(minutes=6)
    assert await reaper.reap_stale(ctx) == {"requeued": 0, "failed": 1}


async def test_a_transformation_asked_before_the_landing_keeps_the_defaults(
        ctx: AppContext) -> None:
    source = await add(ctx, _png((40, 30)), auto_transform=True)
    await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="image_compression"))
    assert await extract_for_blob(ctx, source["file_path"]) == "done"
    detail = await service.file_detail(ctx, ALICE, source["id"])
    assert sorted(t.type for t in detail.transformations) == [
        "image_compression", "thumbnail_generation"]
    assert await extract_for_blob(ctx, source["file_path"]) == "skipped"
    assert len(messages(ctx)) == 2


async def test_extraction_runs_once_and_queues_the_defaults(ctx: AppContext) -> None:
    source = await add(ctx, _png((40, 30)), auto_transform=True)
    assert await extract_for_blob(ctx, source["file_path"]) == "done"
    assert await extract_for_blob(ctx, source["file_path"]) == "skipped"
    detail = await service.file_detail(ctx, ALICE, source["id"])
    assert detail.metadata["dimensions"] == {"width": 40, "height": 30}
    assert [t.type for t in detail.transformations] == ["thumbnail_generation"]
    assert len(messages(ctx)) == 1
    assert await extract_for_blob(ctx, "users/nobody/unknown.png") == "skipped"


async def test_an_unreadable_file_is_recorded_failed(ctx: AppContext) -> None:
    source = await add(ctx, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert await extract_for_blob(ctx, source["file_path"]) == "failed"
    detail = await service.file_detail(ctx, ALICE, source["id"])
    assert detail.metadata["extraction"]["status"] == "failed"


def test_defaults_by_type() -> None:
    assert [d[0] for d in defaults_for("image/jpeg")] == ["thumbnail_generation"]
    assert [d[0] for d in defaults_for("video/mp4")] == ["thumbnail_generation"]
    assert [(d[0], d[2]) for d in defaults_for("application/pdf")] == [
        ("thumbnail_generation", None), ("thumbnail_generation", "preview"),
        ("text_extraction", None)]
    assert [d[0] for d in defaults_for(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")] == [
        "text_extraction"]
    assert defaults_for("text/plain") == []


async def test_an_output_over_the_quota_fails_and_leaves_nothing(tmp_path) -> None:
    noise = io.BytesIO()
    Image.frombytes("RGB", (60, 60), os.urandom(60 * 60 * 3)).save(noise, format="PNG")
    content = noise.getvalue()  # incompressible: its PNG copy is as large
    ctx = fake_context(temp_storage_path=str(tmp_path / "work"),
                       quota_user_bytes=len(content) + 100)
    source = await add(ctx, content)
    await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="image_format_conversion",
        parameters={"format": "png"}))
    assert await worker.handle_message(ctx, messages(ctx)[0]) == "failed"
    [row] = cast(FakeDatabase, ctx.db).tables.transformations
    assert row["error_code"] == "TRANSFORMATION_FAILED" and "quota" in row["error_message"]
    assert len(cast(FakeDatabase, ctx.db).tables.files) == 1
    assert [o async for o in ctx.stores.primary.scan("users/")] and \
        len([o async for o in ctx.stores.primary.scan("users/")]) == 1


async def test_an_output_is_encrypted_at_rest_like_an_upload(tmp_path) -> None:
    ctx = fake_context(temp_storage_path=str(tmp_path / "work"),
                       encryption_key=base64.b64encode(os.urandom(32)).decode())
    source = await add(ctx, _png())
    await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="thumbnail_generation",
        parameters={"format": "png"}))
    assert await worker.handle_message(ctx, messages(ctx)[0]) == "completed"
    [row] = cast(FakeDatabase, ctx.db).tables.transformations
    output = cast(FakeDatabase, ctx.db).tables.files[row["target_file_id"]]
    assert output["encryption"] is not None
    plain = b"".join([c async for c in await read_plain(ctx, output, 0,
                                                         output["size_bytes"] - 1)])
    assert Image.open(io.BytesIO(plain)).format == "PNG"


async def test_an_archived_source_fails_at_once_with_a_clear_message(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    await ctx.stores.primary.set_tier(source["file_path"], "archive")
    await request_transformation(ctx, ALICE, TransformRequest(
        source_file_id=source["id"], transformation_type="thumbnail_generation"))
    assert await worker.handle_message(ctx, messages(ctx)[0]) == "failed"
    [row] = cast(FakeDatabase, ctx.db).tables.transformations
    assert row["attempts"] == 1 and "archive tier" in row["error_message"]


async def test_the_timer_describes_what_no_blob_event_did(ctx: AppContext) -> None:
    source = await add(ctx, _png((20, 10)), auto_transform=True)
    assert await extraction.catch_up(ctx) == {"done": 0, "failed": 0, "skipped": 0,
                                              "errors": 0}  # the event has its chance first
    cast(FakeClock, ctx.clock).advance(minutes=11)
    assert (await extraction.catch_up(ctx))["done"] == 1
    assert (await extraction.catch_up(ctx))["done"] == 0
    detail = await service.file_detail(ctx, ALICE, source["id"])
    assert detail.metadata["dimensions"] == {"width": 20, "height": 10}
    assert [t.type for t in detail.transformations] == ["thumbnail_generation"]


async def test_a_missing_object_is_recorded_not_retried(ctx: AppContext) -> None:
    source = await add(ctx, _png())
    await ctx.stores.primary.delete(source["file_path"])
    assert await extract_for_blob(ctx, source["file_path"]) == "failed"
    detail = await service.file_detail(ctx, ALICE, source["id"])
    assert detail.metadata["extraction"]["error_code"] == "NOT_FOUND"
