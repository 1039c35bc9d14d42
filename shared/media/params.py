"""The ``parameters`` of each transformation type: strict pydantic models.

Strict: no coercion ("800" is not 800, true is not 1), unknown fields refused, a bound on
every number, formats from a closed list. ``None`` for ``quality`` and ``bitrate`` means
"the service default" (``IMAGE_QUALITY``, ``VIDEO_BITRATE``), filled in by the registry so
that the stored parameters say what was done.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

ImageFormat = Literal["jpeg", "png", "webp", "gif"]
ThumbnailFormat = Literal["jpeg", "png", "webp"]
VideoFormat = Literal["mp4", "mov", "webm", "gif"]
OcrLanguage = Literal["fr", "en"]

MAX_IMAGE_SIDE = 16_384  # WebP's own limit, and far past any screen
MAX_VIDEO_SIDE = 8192
_BITRATE_UNITS = {"": 1, "k": 1000, "m": 1_000_000}
MIN_BITRATE, MAX_BITRATE = 32_000, 100_000_000

ImageSide = Annotated[int, Field(ge=1, le=MAX_IMAGE_SIDE)]
VideoSide = Annotated[int, Field(ge=16, le=MAX_VIDEO_SIDE)]
Quality = Annotated[int, Field(ge=1, le=100)]


def bitrate_bits(value: str) -> int:
    """'2000k' -> 2_000_000; digits with an optional k or M (FFmpeg's own notation)."""
    text = value.strip().lower()
    unit = text[-1:] if text[-1:] in ("k", "m") else ""
    digits = text[: len(text) - len(unit)]
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        raise ValueError("a bit rate is digits with an optional k or M, e.g. 2000k")
    return int(digits) * _BITRATE_UNITS[unit]


def _bounded_bitrate(value: str) -> str:
    bits = bitrate_bits(value)
    if not MIN_BITRATE <= bits <= MAX_BITRATE:
        raise ValueError(f"a bit rate between {MIN_BITRATE // 1000}k and "
                         f"{MAX_BITRATE // 1_000_000}M")
    return value.strip()


Bitrate = Annotated[str, Field(max_length=12), AfterValidator(_bounded_bitrate)]


class Params(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Box(Params):
    """A target width and/or height; with the aspect ratio kept, the image fits inside."""

    maintain_aspect_ratio: bool = True

    @model_validator(mode="after")
    def _one_side(self) -> Self:
        width, height = getattr(self, "width", None), getattr(self, "height", None)
        if width is None and height is None:
            raise ValueError("give width, height or both")
        if not self.maintain_aspect_ratio and (width is None or height is None):
            raise ValueError("without maintain_aspect_ratio give both width and height")
        return self


class ImageResize(_Box):
    width: ImageSide | None = None
    height: ImageSide | None = None
    quality: Quality | None = None
    format: ImageFormat | None = None  # None: the source's format when it is one of these


class ImageFormatConversion(Params):
    format: ImageFormat
    quality: Quality | None = None


class ImageCompression(Params):
    quality: Quality | None = None
    format: ImageFormat | None = None  # None: the source's format


class VideoResize(_Box):
    width: VideoSide | None = None
    height: VideoSide | None = None
    format: VideoFormat = "mp4"
    bitrate: Bitrate | None = None


class VideoFormatConversion(Params):
    format: VideoFormat
    bitrate: Bitrate | None = None
    fps: Annotated[int, Field(ge=1, le=60)] | None = None  # GIF default: 10
    width: VideoSide | None = None  # GIF default: 480 (height follows)


class VideoBitrateAdjustment(Params):
    bitrate: Bitrate | None = None
    audio_bitrate: Bitrate = "128k"
    format: Literal["mp4", "mov", "webm"] = "mp4"


class TextExtraction(Params):
    pass


class Ocr(Params):
    languages: Annotated[list[OcrLanguage], Field(min_length=1, max_length=2)] = ["fr", "en"]
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5


class ThumbnailGeneration(Params):
    width: Annotated[int, Field(ge=16, le=1024)] = 256
    height: Annotated[int, Field(ge=16, le=1024)] = 256
    format: ThumbnailFormat = "jpeg"
    quality: Quality | None = None
    time_seconds: Annotated[float, Field(ge=0, le=86_400)] | None = None  # video frame; None: 10%
