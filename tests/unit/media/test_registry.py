"""POST /transform's checks: an unknown type, a bad parameter or a source the type cannot
apply to is 400 VALIDATION_ERROR with the field; a role that may not ask is 403 FORBIDDEN
with the role needed; defaults come from IMAGE_QUALITY and VIDEO_BITRATE."""

from __future__ import annotations

from typing import Any

import pytest

from shared.auth import Role
from shared.errors import Forbidden, TransformationFailed, ValidationFailed
from shared.media.registry import REGISTRY, load_transformation, validate_transformation
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# A valid request per type, its source, and the output type it must announce.
VALID = {
    "image_resize": ({"width": 800, "height": 600, "quality": 85, "format": "jpeg",
                      "maintain_aspect_ratio": True}, "image/png", "image/jpeg"),
    "image_format_conversion": ({"format": "webp"}, "image/jpeg", "image/webp"),
    "image_compression": ({"quality": 40}, "image/png", "image/png"),
    "video_resize": ({"width": 640}, "video/quicktime", "video/mp4"),
    "video_format_conversion": ({"format": "gif"}, "video/mp4", "image/gif"),
    "video_bitrate_adjustment": ({"bitrate": "800k", "format": "webm"}, "video/mp4",
                                 "video/webm"),
    "text_extraction": ({}, DOCX, "text/plain"),
    "ocr": ({"languages": ["fr"]}, "application/pdf", "text/plain"),
    "thumbnail_generation": ({"format": "png"}, "video/webm", "image/png"),
}


def check(kind: str, params: Any, source: str = "", role: Role = Role.ADMIN):
    return validate_transformation(kind, params, source or VALID[kind][1], role, Settings())


def refused_field(kind: str, params: Any, source: str = "") -> str:
    with pytest.raises(ValidationFailed) as caught:
        check(kind, params, source)
    error = caught.value
    assert error.status == 400 and error.code == "VALIDATION_ERROR"
    return error.details["field"]


def test_every_type_of_the_design_is_registered() -> None:
    assert set(REGISTRY) == set(VALID)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_a_valid_request_names_its_output(kind: str) -> None:
    params, source, output = VALID[kind]
    valid = check(kind, params, source)
    assert valid.type.name == kind
    assert valid.output.mime_type == output
    assert valid.output.extension.startswith(".")
    # What is stored is valid again for the worker.
    again = load_transformation(kind, valid.stored_params, source)
    assert again.params == valid.params


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_transformation("image_rotate", {}, "image/png", Role.ADMIN, Settings())
    assert caught.value.details["field"] == "transformation_type"
    assert "image_resize" in caught.value.details["allowed"]
    with pytest.raises(ValidationFailed):
        validate_transformation(["ocr"], {}, "image/png", Role.ADMIN, Settings())


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("image_resize", {"width": 800, "colour": "red"}, "parameters.colour"),
    ("image_resize", {"width": "800"}, "parameters.width"),
    ("image_resize", {"width": 800.0}, "parameters.width"),
    ("image_resize", {"width": True}, "parameters.width"),
    ("image_resize", {"width": 0}, "parameters.width"),
    ("image_resize", {"width": 16_385}, "parameters.width"),
    ("image_resize", {"height": -1}, "parameters.height"),
    ("image_resize", {}, "parameters"),
    ("image_resize", {"width": 10, "maintain_aspect_ratio": False}, "parameters"),
    ("image_resize", {"width": 10, "quality": 101}, "parameters.quality"),
    ("image_resize", {"width": 10, "quality": 0}, "parameters.quality"),
    ("image_resize", {"width": 10, "format": "bmp"}, "parameters.format"),
    ("image_resize", {"width": 10, "maintain_aspect_ratio": "yes"},
     "parameters.maintain_aspect_ratio"),
    ("image_format_conversion", {}, "parameters.format"),
    ("image_format_conversion", {"format": "tiff"}, "parameters.format"),
    ("image_compression", {"quality": 1.5}, "parameters.quality"),
    ("video_resize", {"width": 8}, "parameters.width"),
    ("video_resize", {"width": 8193}, "parameters.width"),
    ("video_resize", {"width": 640, "format": "avi"}, "parameters.format"),
    ("video_format_conversion", {"format": "mkv"}, "parameters.format"),
    ("video_format_conversion", {"format": "gif", "fps": 61}, "parameters.fps"),
    ("video_bitrate_adjustment", {"bitrate": "fast"}, "parameters.bitrate"),
    ("video_bitrate_adjustment", {"bitrate": "1k"}, "parameters.bitrate"),
    ("video_bitrate_adjustment", {"bitrate": "999M"}, "parameters.bitrate"),
    ("video_bitrate_adjustment", {"bitrate": 2000}, "parameters.bitrate"),
    ("video_bitrate_adjustment", {"bitrate": "2" * 20 + "k"}, "parameters.bitrate"),
    ("video_bitrate_adjustment", {"format": "gif"}, "parameters.format"),
    ("text_extraction", {"pages": 3}, "parameters.pages"),
    ("ocr", {"languages": ["de"]}, "parameters.languages.0"),
    ("ocr", {"languages": []}, "parameters.languages"),
    ("ocr", {"min_confidence": 2}, "parameters.min_confidence"),
    ("thumbnail_generation", {"width": 2048}, "parameters.width"),
    ("thumbnail_generation", {"format": "gif"}, "parameters.format"),
    ("thumbnail_generation", {"time_seconds": -1}, "parameters.time_seconds"),
])
def test_every_invalid_parameter_is_refused_with_its_field(kind: str, params: dict,
                                                           field: str) -> None:
    assert refused_field(kind, params) == field


def test_parameters_must_be_an_object() -> None:
    assert refused_field("image_resize", [800, 600]) == "parameters"


def test_all_errors_are_listed() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check("image_resize", {"width": 0, "quality": 500})
    fields = {e["field"] for e in caught.value.details["errors"]}
    assert fields == {"parameters.width", "parameters.quality"}


@pytest.mark.parametrize(("kind", "source"), [
    ("video_format_conversion", "image/png"),
    ("image_resize", "video/mp4"),
    ("image_resize", "application/pdf"),
    ("text_extraction", "image/png"),
    ("ocr", "video/mp4"),
    ("ocr", "text/plain"),
    ("thumbnail_generation", "audio/mpeg"),
    ("thumbnail_generation", "application/zip"),
])
def test_a_source_the_type_cannot_apply_to_is_refused(kind: str, source: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check(kind, VALID[kind][0], source)
    assert caught.value.details["field"] == "source_file_id"
    assert caught.value.details["source_mime_type"] == source
    assert VALID[kind][1] in caught.value.details["accepted_mime_types"]


def test_svg_is_never_rasterised() -> None:
    with pytest.raises(ValidationFailed, match="SVG"):
        check("thumbnail_generation", {}, "image/svg+xml")
    with pytest.raises(ValidationFailed, match="SVG"):
        check("image_format_conversion", {"format": "png"}, "image/svg+xml")


@pytest.mark.parametrize("kind", ["video_resize", "video_format_conversion",
                                  "video_bitrate_adjustment", "ocr"])
def test_advanced_types_are_for_premium_and_admin(kind: str) -> None:
    with pytest.raises(Forbidden) as caught:
        check(kind, VALID[kind][0], role=Role.USER)
    assert caught.value.status == 403 and caught.value.code == "FORBIDDEN"
    assert caught.value.details["required_role"] == "premium"
    assert caught.value.details["role"] == "user"
    for role in (Role.PREMIUM, Role.ADMIN):
        assert check(kind, VALID[kind][0], role=role).type.name == kind


@pytest.mark.parametrize("kind", ["image_resize", "image_format_conversion",
                                  "image_compression", "text_extraction",
                                  "thumbnail_generation"])
def test_basic_types_are_for_every_role(kind: str) -> None:
    assert check(kind, VALID[kind][0], role=Role.USER).type.name == kind


def test_defaults_come_from_settings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IMAGE_QUALITY", "70")
    clean_env.setenv("VIDEO_BITRATE", "1500k")
    assert check("image_compression", {}).stored_params["quality"] == 70
    assert check("image_compression", {"quality": 30}).stored_params["quality"] == 30
    assert check("video_bitrate_adjustment", {}).stored_params["bitrate"] == "1500k"
    # The format kept is written down too.
    assert check("image_resize", {"width": 10}, "image/gif").stored_params["format"] == "gif"
    assert check("image_resize", {"width": 10}, "image/tiff").output.mime_type == "image/png"


def test_a_bad_default_setting_is_not_used(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("IMAGE_QUALITY", "500")
    with pytest.raises(ValidationFailed):
        check("image_compression", {})


def test_a_stored_row_that_no_longer_validates_fails_the_job() -> None:
    with pytest.raises(TransformationFailed) as caught:
        load_transformation("image_resize", {"width": -5}, "image/png")
    assert caught.value.code == "TRANSFORMATION_FAILED"
    with pytest.raises(TransformationFailed):
        load_transformation("nope", {}, "image/png")
