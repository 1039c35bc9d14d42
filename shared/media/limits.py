"""Safety limits of every media job, in one settings group, and the checks that apply them.

Every engine checks its limits from headers (image size, frame count, stream duration and
size, PDF page count, archive entry sizes) *before* decoding, and raises
``MediaLimitExceeded`` (``JobTimedOut`` for time), which the worker records as a failed
transformation with ``TRANSFORMATION_FAILED``.

| field | environment | default | what it bounds |
|---|---|---|---|
| max_pixels | MEDIA_MAX_PIXELS | 100 000 000 | an image's width × height (and Pillow's own) |
| max_frames | MEDIA_MAX_FRAMES | 1000 | animated image frames; GIF output frames |
| max_video_seconds | MEDIA_MAX_VIDEO_SECONDS | 1800 | duration of a video or audio source |
| max_video_pixels | MEDIA_MAX_VIDEO_PIXELS | 4096 × 2160 | a video frame's pixels, in and out |
| max_pdf_pages | MEDIA_MAX_PDF_PAGES | 2000 | pages of a PDF |
| max_ocr_pages | MEDIA_MAX_OCR_PAGES | 20 | pages of a scanned PDF read by OCR |
| max_output_bytes | MEDIA_MAX_OUTPUT_SIZE | 500MB | bytes a job may write |
| max_unpacked_bytes | MEDIA_MAX_UNPACKED_SIZE | 256MB | a DOCX's unzipped parts; an RTF's size |
| max_memory_bytes | MEDIA_MAX_MEMORY | 2GB | RLIMIT_AS of an FFmpeg, PDF or RTF child |
| job_seconds | MEDIA_JOB_TIMEOUT | 540 | one job's wall clock (under host.json's 10 min) |

Memory of the in-process decoders (Pillow, OCR) is bounded by the pixel, frame and
page limits rather than by an rlimit, which would apply to the whole worker process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import JobTimedOut, MediaLimitExceeded
from shared.settings import Settings

MiB = 1024**2


class MediaLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_pixels: int = Field(100_000_000, ge=1, le=2**32)
    max_frames: int = Field(1000, ge=1, le=1_000_000)
    max_video_seconds: float = Field(1800, gt=0, le=86_400)
    max_video_pixels: int = Field(4096 * 2160, ge=64, le=8192 * 8192)
    max_pdf_pages: int = Field(2000, ge=1, le=100_000)
    max_ocr_pages: int = Field(20, ge=1, le=1000)
    max_output_bytes: int = Field(500 * MiB, ge=1)
    max_unpacked_bytes: int = Field(256 * MiB, ge=1)
    max_memory_bytes: int = Field(2048 * MiB, ge=256 * MiB)
    job_seconds: float = Field(540, gt=0, le=86_400)

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_pixels=settings.media_max_pixels,
            max_frames=settings.media_max_frames,
            max_video_seconds=settings.media_max_video_seconds,
            max_video_pixels=settings.media_max_video_pixels,
            max_pdf_pages=settings.media_max_pdf_pages,
            max_ocr_pages=settings.media_max_ocr_pages,
            max_output_bytes=settings.media_max_output_size,
            max_unpacked_bytes=settings.media_max_unpacked_size,
            max_memory_bytes=settings.media_max_memory,
            job_seconds=settings.media_job_timeout,
        )

    def check_pixels(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise MediaLimitExceeded("pixels", width * height, self.max_pixels,
                                     f"the image declares an empty size {width}x{height}")
        if width * height > self.max_pixels:
            raise MediaLimitExceeded(
                "pixels", width * height, self.max_pixels,
                f"the image is {width}x{height} ({width * height} pixels), more than the "
                f"limit of {self.max_pixels} pixels")

    def check_frames(self, frames: int) -> None:
        if frames > self.max_frames:
            raise MediaLimitExceeded("frames", frames, self.max_frames,
                                     f"{frames} frames exceed the limit of {self.max_frames}")

    def check_video(self, width: int, height: int, seconds: float | None) -> None:
        if width * height > self.max_video_pixels:
            raise MediaLimitExceeded(
                "video_pixels", width * height, self.max_video_pixels,
                f"the video is {width}x{height}, more than {self.max_video_pixels} pixels a frame")
        self.check_duration(seconds)

    def check_duration(self, seconds: float | None) -> None:
        if seconds is None:
            raise MediaLimitExceeded("video_seconds", -1, self.max_video_seconds,
                                     "the media's duration cannot be read from its headers")
        if seconds > self.max_video_seconds:
            raise MediaLimitExceeded(
                "video_seconds", round(seconds, 3), self.max_video_seconds,
                f"the media lasts {seconds:.1f} s, more than the limit of "
                f"{self.max_video_seconds:g} s")

    def check_pages(self, pages: int, maximum: int | None = None, what: str = "pdf_pages") -> None:
        maximum = self.max_pdf_pages if maximum is None else maximum
        if pages > maximum:
            raise MediaLimitExceeded(what, pages, maximum,
                                     f"{pages} pages exceed the limit of {maximum}")

    def check_output(self, size: int) -> None:
        if size > self.max_output_bytes:
            raise MediaLimitExceeded(
                "output_bytes", size, self.max_output_bytes,
                f"the output reached {size} bytes, more than the limit of "
                f"{self.max_output_bytes}")


@dataclass
class Deadline:
    """The wall-clock budget of one job, checked between steps (pages, frames, chunks)."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, limits: MediaLimits) -> Deadline:
        return cls(limits.job_seconds)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise JobTimedOut(self.seconds, self.elapsed())
