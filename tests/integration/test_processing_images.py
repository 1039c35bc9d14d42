"""Images through the whole pipeline: metadata on landing, auto_transform's thumbnail, every
image type asked for through POST /transform, and the requests refused (400, 403, 404)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import media_samples as samples
from tests.integration.helpers import assert_error
from tests.integration.processing import Pipeline


@pytest.fixture
def pipeline(api, auth_headers, upload) -> Pipeline:
    return Pipeline(api, auth_headers, upload)


def _used(stores, user: str) -> int:
    return stores.sql("SELECT used_bytes FROM storage_usage WHERE user_id = %s",
                      (user,))[0]["used_bytes"]


def test_a_photo_lands_described_and_thumbnailed(pipeline, user, tmp_path, wait_for):
    photo = samples.photo(tmp_path / "photo.jpg", (640, 480))
    source = pipeline.upload(user, photo, "image/jpeg", auto_transform=True)

    def done() -> bool:
        detail = pipeline.detail(user, source["id"])
        return bool(detail["metadata"]["processing"]["thumbnails_generated"])

    wait_for(done, timeout=60, what="metadata and thumbnail")
    detail = pipeline.detail(user, source["id"])
    metadata = detail["metadata"]
    assert metadata["dimensions"] == {"width": 640, "height": 480}
    assert metadata["image"]["format"] == "jpeg" and metadata["exif"]["camera"] == "Canon EOS R5"
    assert metadata["gps"] == samples.GPS  # kept apart, for the owner
    assert metadata["extraction"]["status"] == "done"
    assert metadata["processing"] == {"text_extracted": False, "thumbnails_generated": True,
                                      "searchable": False}
    [thumb] = detail["transformations"]
    assert thumb["type"] == "thumbnail_generation" and thumb["status"] == "completed"
    assert detail["urls"]["thumbnail"].endswith(f"/stream/{source['id']}?variant=thumbnail")
    image = Image.open(io.BytesIO(pipeline.download(user, thumb["output_file_id"])))
    assert image.format == "JPEG" and max(image.size) == 256
    assert not image.getexif().get_ifd(0x8825)  # no GPS copied into the thumbnail


def test_without_auto_transform_only_metadata(pipeline, user, tmp_path, wait_for):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.png", fmt="PNG"), "image/png")
    wait_for(lambda: "extraction" in pipeline.detail(user, source["id"])["metadata"],
             what="metadata")
    assert pipeline.detail(user, source["id"])["transformations"] == []


def test_every_image_type_makes_a_file_of_the_owner(pipeline, user, tmp_path, stores):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg", (800, 600)), "image/jpeg")
    before = _used(stores, user)

    resized = pipeline.run(user, source["id"], "image_resize",
                           parameters={"width": 400, "height": 400, "format": "png"},
                           output_name="../../évil<name>.png")
    assert resized["transformation"]["status"] == "completed", resized
    out = resized["output_file"]
    assert out["original_name"] == "évil_name_.png" and out["mime_type"] == "image/png"
    assert Image.open(io.BytesIO(pipeline.download(user, out["id"]))).size == (400, 300)
    t = resized["transformation"]
    assert t["progress_percent"] == 100 and t["processing_time_ms"] >= 0
    assert t["target_file_id"] == out["id"] and out["urls"]["download"].endswith(out["id"])
    assert t["parameters"]["quality"] == 85  # IMAGE_QUALITY filled in

    webp = pipeline.run(user, source["id"], "image_format_conversion",
                        parameters={"format": "webp", "quality": 70})
    assert webp["output_file"]["mime_type"] == "image/webp"  # not in the upload allow-list
    assert webp["output_file"]["original_name"] == "p_image_format_conversion.webp"
    small = pipeline.run(user, source["id"], "image_compression", parameters={"quality": 20})
    assert small["output_file"]["mime_type"] == "image/jpeg"
    assert small["output_file"]["size_bytes"] < source["size_bytes"]

    outputs = [resized, webp, small]
    assert _used(stores, user) == before + sum(o["output_file"]["size_bytes"] for o in outputs)
    listed = pipeline.detail(user, source["id"])["transformations"]
    assert [(t["type"], t["output_file_id"]) for t in listed] == [
        (o["transformation"]["transformation_type"], o["output_file"]["id"]) for o in outputs]
    owners = stores.sql("SELECT DISTINCT user_id FROM files WHERE id = ANY(%s::uuid[])",
                        ([o["output_file"]["id"] for o in outputs],))
    assert owners == [{"user_id": user}]


def test_queued_answer_has_the_spec_shape(pipeline, user, tmp_path):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg"), "image/jpeg")
    response = pipeline.ask(user, source["id"], "thumbnail_generation")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["queue_position"] >= 1
    t = body["transformation"]
    assert t["status"] in ("queued", "processing", "completed")
    assert t["source_file_id"] == source["id"]
    assert t["transformation_type"] == "thumbnail_generation"
    assert t["estimated_completion"] >= t["created_at"] and t["progress_percent"] >= 0
    pipeline.ended(user, t["id"])


def test_bad_requests_are_refused_with_the_field(pipeline, user, tmp_path, stores):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg"), "image/jpeg")
    sid = source["id"]

    unknown = assert_error(pipeline.ask(user, sid, "image_rotate"), 400, "VALIDATION_ERROR")
    assert unknown["details"]["field"] == "transformation_type"
    bad = assert_error(pipeline.ask(user, sid, "image_resize", parameters={"width": "800"}),
                       400, "VALIDATION_ERROR")
    assert bad["details"]["field"] == "parameters.width"
    extra = assert_error(pipeline.ask(user, sid, "image_resize",
                                      parameters={"width": 10, "colour": "red"}),
                         400, "VALIDATION_ERROR")
    assert extra["details"]["field"] == "parameters.colour"
    wrong = assert_error(pipeline.ask(user, sid, "video_format_conversion", role="premium",
                                      parameters={"format": "webm"}), 400, "VALIDATION_ERROR")
    assert wrong["details"]["field"] == "source_file_id"
    text = assert_error(pipeline.ask(user, sid, "text_extraction"), 400, "VALIDATION_ERROR")
    assert text["details"]["source_mime_type"] == "image/jpeg"
    for advanced in ("video_resize", "ocr"):
        refused = assert_error(pipeline.ask(user, sid, advanced), 403, "FORBIDDEN")
        assert refused["details"]["required_role"] == "premium"
    assert_error(pipeline.ask("someone-else", sid, "thumbnail_generation"), 404, "NOT_FOUND")
    assert_error(pipeline.api.get("/api/v1/storage/transform/nope",
                                  headers=pipeline.auth(user)), 404, "NOT_FOUND")
    assert stores.sql("SELECT count(*) AS n FROM file_transformations"
                      " WHERE source_file_id = %s", (sid,))[0]["n"] == 0


def test_another_users_transformation_is_not_found(pipeline, user, tmp_path):
    source = pipeline.upload(user, samples.photo(tmp_path / "p.jpg"), "image/jpeg")
    done = pipeline.run(user, source["id"], "thumbnail_generation")
    tid = done["transformation"]["id"]
    response = pipeline.api.get(f"/api/v1/storage/transform/{tid}",
                                headers=pipeline.auth("stranger"))
    assert_error(response, 404, "NOT_FOUND")
    assert pipeline.status("admin-1", tid, role="admin")["transformation"]["id"] == tid


def test_a_pixel_bomb_is_recorded_failed_and_never_loops(pipeline, user, tmp_path, wait_for):
    bomb = pipeline.upload(user, samples.bomb_png(tmp_path / "bomb.png"), "image/png")
    wait_for(lambda: "extraction" in pipeline.detail(user, bomb["id"])["metadata"],
             what="metadata of a bomb")
    extraction = pipeline.detail(user, bomb["id"])["metadata"]["extraction"]
    assert extraction["status"] == "failed" and extraction["error_code"] == "TRANSFORMATION_FAILED"
    failed = pipeline.run(user, bomb["id"], "thumbnail_generation")
    t = failed["transformation"]
    assert t["status"] == "failed" and t["error_code"] == "TRANSFORMATION_FAILED"
    assert "pixels" in t["error_message"] and failed["output_file"] is None
