"""The media limits come from MEDIA_* settings, are bounded, and refuse with the limit named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.errors import JobTimedOut, MediaLimitExceeded
from shared.media.limits import Deadline, MediaLimits
from shared.settings import Settings

pytestmark = pytest.mark.usefixtures("clean_env")


def test_defaults() -> None:
    limits = MediaLimits.from_settings(Settings())
    assert limits == MediaLimits()
    assert limits.max_pixels == 100_000_000
    assert limits.max_memory_bytes == 2 * 1024**3
    assert limits.job_seconds == 540


def test_every_limit_is_read_from_its_documented_name(clean_env: pytest.MonkeyPatch) -> None:
    values = {
        "MEDIA_MAX_PIXELS": ("max_pixels", "5000", 5000),
        "MEDIA_MAX_FRAMES": ("max_frames", "12", 12),
        "MEDIA_MAX_VIDEO_SECONDS": ("max_video_seconds", "30", 30),
        "MEDIA_MAX_VIDEO_PIXELS": ("max_video_pixels", "921600", 921_600),
        "MEDIA_MAX_PDF_PAGES": ("max_pdf_pages", "50", 50),
        "MEDIA_MAX_OCR_PAGES": ("max_ocr_pages", "3", 3),
        "MEDIA_MAX_OUTPUT_SIZE": ("max_output_bytes", "10MB", 10 * 1024**2),
        "MEDIA_MAX_UNPACKED_SIZE": ("max_unpacked_bytes", "1MB", 1024**2),
        "MEDIA_MAX_MEMORY": ("max_memory_bytes", "1GB", 1024**3),
        "MEDIA_JOB_TIMEOUT": ("job_seconds", "2.5", 2.5),
    }
    for name, (_, raw, _) in values.items():
        clean_env.setenv(name, raw)
    limits = MediaLimits.from_settings(Settings())
    for field, _, expected in values.values():
        assert getattr(limits, field) == expected, field


@pytest.mark.parametrize(("name", "value"), [
    ("MEDIA_MAX_PIXELS", "0"), ("MEDIA_JOB_TIMEOUT", "-1"), ("MEDIA_MAX_MEMORY", "1MB"),
    ("MEDIA_MAX_PDF_PAGES", "0"),
])
def test_out_of_bounds_settings_are_refused(clean_env: pytest.MonkeyPatch, name: str,
                                            value: str) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ValidationError):
        MediaLimits.from_settings(Settings())


def test_spec_processing_settings(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.temp_storage_path, settings.image_quality, settings.video_bitrate) == (
        "/tmp/visiobook", 85, "2000k")
    clean_env.setenv("TEMP_STORAGE_PATH", "/data/tmp")
    assert Settings().temp_storage_path == "/data/tmp"


def test_checks_name_the_limit() -> None:
    limits = MediaLimits(max_pixels=100, max_frames=2, max_video_seconds=10,
                         max_video_pixels=64 * 64, max_pdf_pages=3, max_output_bytes=10)
    limits.check_pixels(10, 10)
    cases = [
        (lambda: limits.check_pixels(11, 10), "pixels"),
        (lambda: limits.check_pixels(0, 10), "pixels"),
        (lambda: limits.check_frames(3), "frames"),
        (lambda: limits.check_video(65, 64, 1), "video_pixels"),
        (lambda: limits.check_video(64, 64, 10.5), "video_seconds"),
        (lambda: limits.check_duration(None), "video_seconds"),
        (lambda: limits.check_pages(4), "pdf_pages"),
        (lambda: limits.check_output(11), "output_bytes"),
    ]
    for check, name in cases:
        with pytest.raises(MediaLimitExceeded) as caught:
            check()
        assert caught.value.limit == name
        assert caught.value.code == "TRANSFORMATION_FAILED"
        assert caught.value.details["limit"] == name


def test_deadline() -> None:
    Deadline(60).check()
    with pytest.raises(JobTimedOut) as caught:
        Deadline(0).check()
    assert caught.value.details["limit"] == "job_seconds"
    assert "time limit" in caught.value.message
