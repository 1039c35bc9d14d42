"""Raster images with Pillow: header checks, shrink-on-load, EXIF, resize and re-encode.

Pillow rather than pyvips: with ``draft`` (JPEG shrink-on-load, used by ``thumbnail``) a
24-megapixel JPEG becomes a 256 px thumbnail as fast as ``vipsthumbnail`` does (bench/media),
and Pillow reads EXIF and writes every output format we need; pyvips was ~15 % faster
in-process but would add a second imaging library.

Safety: only the decoders listed in ``DECODERS`` are ever used (never EPS, which runs
Ghostscript, nor SVG); the size is read from the header and checked against the limits
before any pixel is decoded; outputs carry no EXIF, XMP or GPS, only the colour profile.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from shared.errors import MediaLimitExceeded, UnreadableMedia
from shared.media.limits import Deadline, MediaLimits

# Pillow plugin names of the formats we decode.
DECODERS = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP")
PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
EXTENSION = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif"}
_ANIMATED_OUTPUTS = {"gif", "webp"}
_ORIENTATION = ExifTags.Base.Orientation
_TRANSPOSED = {5, 6, 7, 8}  # orientations that swap width and height
# open_image refuses what this warns about, with the size in its message.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, ...
    width: int  # as displayed (EXIF orientation applied)
    height: int
    mode: str
    frames: int
    orientation: int


@contextlib.contextmanager
def open_image(path: Path, limits: MediaLimits) -> Iterator[Image.Image]:
    """The image with only its header read, after the pixel and frame limits are checked."""
    # Pillow's own bomb check is the second line: it refuses past twice the limit while it
    # opens; between once and twice it only warns (silenced above) and ours refuses.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    try:
        image = Image.open(path, formats=DECODERS)
    except Image.DecompressionBombError as exc:
        raise MediaLimitExceeded("pixels", _declared_pixels(exc), limits.max_pixels,
                                 f"the image is larger than the limit of {limits.max_pixels} "
                                 f"pixels ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UnreadableMedia(f"not a readable image: {exc}") from exc
    with image:
        limits.check_pixels(*image.size)
        limits.check_frames(getattr(image, "n_frames", 1))
        yield image


def _declared_pixels(exc: Exception) -> int:
    """The pixel count in Pillow's message "Image size (N pixels) exceeds limit ..."."""
    words = str(exc).replace("(", " ").split()
    return next((int(w) for w in words if w.isdigit()), -1)


def image_info(image: Image.Image) -> ImageInfo:
    orientation = int(image.getexif().get(_ORIENTATION, 1) or 1)
    width, height = image.size
    if orientation in _TRANSPOSED:
        width, height = height, width
    return ImageInfo(format=image.format or "", width=width, height=height, mode=image.mode,
                     frames=getattr(image, "n_frames", 1), orientation=orientation)


def oriented(image: Image.Image) -> Image.Image:
    """The current frame decoded at full size, turned upright per its EXIF orientation."""
    return ImageOps.exif_transpose(image) if image_info(image).orientation != 1 else image.copy()


def fit(width: int, height: int, box_w: int | None, box_h: int | None,
        keep_ratio: bool = True) -> tuple[int, int]:
    """Size of a ``width`` × ``height`` image scaled into the box (one side may be None)."""
    if not keep_ratio and box_w and box_h:
        return box_w, box_h
    scales = [s for s in (box_w and box_w / width, box_h and box_h / height) if s]
    scale = min(scales)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decoded(image: Image.Image, size: tuple[int, int], orientation: int) -> Image.Image:
    """The current frame decoded at ``size`` (display orientation), shrinking on load."""
    stored = (size[1], size[0]) if orientation in _TRANSPOSED else size
    # JPEG: decode at 1/2, 1/4 or 1/8 scale while that stays twice the target (as Pillow's
    # own thumbnail() does), then resample the rest.
    image.draft(None, (stored[0] * 2, stored[1] * 2))
    frame = ImageOps.exif_transpose(image) if orientation != 1 else image.copy()
    if frame.size != size:
        frame = frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return frame


def _for_format(frame: Image.Image, fmt: str) -> Image.Image:
    """Pixels in a mode the encoder takes; transparency goes on white for JPEG."""
    if fmt == "jpeg":
        if frame.mode in ("RGBA", "LA", "P", "PA"):
            rgba = frame.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return frame if frame.mode in ("RGB", "L", "CMYK") else frame.convert("RGB")
    if frame.mode in ("RGB", "RGBA", "L", "LA", "P"):
        return frame
    return frame.convert("RGBA" if "A" in frame.getbands() else "RGB")


def _save_options(fmt: str, quality: int, icc: bytes | None) -> dict[str, Any]:
    options: dict[str, Any] = {"format": PIL_FORMAT[fmt]}
    if icc and fmt in ("jpeg", "png", "webp"):
        options["icc_profile"] = icc
    if fmt == "jpeg":
        options.update(quality=quality, optimize=True, progressive=True)
    elif fmt == "webp":
        options.update(quality=quality, method=4)
    elif fmt == "png":
        # PNG is lossless: quality maps to zlib effort (higher quality, faster and larger)
        options.update(optimize=quality < 50, compress_level=max(1, min(9, 10 - quality // 10)))
    return options


def _frames(image: Image.Image, size: tuple[int, int], orientation: int,
            deadline: Deadline) -> Iterator[Image.Image]:
    for index in range(getattr(image, "n_frames", 1)):
        deadline.check()
        image.seek(index)
        yield _decoded(image, size, orientation)


def render(source: Path, output: Path, *, box: tuple[int | None, int | None] | None,
           fmt: str, quality: int, limits: MediaLimits, deadline: Deadline,
           keep_ratio: bool = True, upscale: bool = True) -> dict[str, Any]:
    """Decode ``source`` (shrunk on load to fit ``box``), write it as ``fmt``; no metadata
    but the colour profile is copied. Animated GIF/WebP stay animated in GIF/WebP."""
    with open_image(source, limits) as image:
        info = image_info(image)
        size = (info.width, info.height)
        if box is not None:
            size = fit(info.width, info.height, box[0], box[1], keep_ratio)
            if not upscale and size[0] * size[1] > info.width * info.height:
                size = (info.width, info.height)
        limits.check_pixels(*size)
        animated = info.frames > 1 and fmt in _ANIMATED_OUTPUTS
        if animated:
            limits.check_pixels(size[0], size[1] * info.frames)  # every frame is held
        options = _save_options(fmt, quality, image.info.get("icc_profile"))
        if animated:
            frames = [_for_format(f, fmt) for f in _frames(image, size, info.orientation,
                                                            deadline)]
            durations = _durations(image, len(frames))
            frames[0].save(output, save_all=True, append_images=frames[1:], loop=0,
                           duration=durations, **options)
        else:
            deadline.check()
            _for_format(_decoded(image, size, info.orientation), fmt).save(output, **options)
    written = output.stat().st_size
    limits.check_output(written)
    return {"mime_type": MIME[fmt], "extension": EXTENSION[fmt], "size_bytes": written,
            "dimensions": {"width": size[0], "height": size[1]},
            "frames": info.frames if animated else 1}


def _durations(image: Image.Image, count: int) -> list[int]:
    durations = []
    for index in range(count):
        image.seek(index)
        durations.append(int(image.info.get("duration", 100) or 100))
    return durations


def source_format(path: Path, limits: MediaLimits) -> str:
    """Our format name of a readable image (jpeg, png, webp, gif), or '' for another one."""
    with open_image(path, limits) as image:
        return {v: k for k, v in PIL_FORMAT.items()}.get(image.format or "", "")


# EXIF -------------------------------------------------------------------------------------

_IFD = ExifTags.IFD
_T = ExifTags.Base


def _ratio(value: Any) -> float | None:
    try:
        return float(Fraction(value)) if not isinstance(value, tuple) else value[0] / value[1]
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:200] or None


def _exif_date(value: Any) -> str | None:
    """EXIF 'YYYY:MM:DD HH:MM:SS' as ISO 8601 (no zone: EXIF rarely records one)."""
    text = _text(value)
    if not text or len(text) < 19 or text[4] != ":" or text[7] != ":":
        return text
    return f"{text[0:4]}-{text[5:7]}-{text[8:10]}T{text[11:19]}"


def _gps_degrees(dms: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (float(_ratio(part) or 0) for part in dms)
    except (TypeError, ValueError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    return round(-value if _text(ref) in ("S", "W") else value, 7)


def exif_of(image: Image.Image) -> tuple[dict[str, Any], dict[str, Any]]:
    """(exif, gps): camera, dates, orientation and exposure; GPS apart, never to be shown
    publicly nor copied into derived images."""
    exif = image.getexif()
    if not exif:
        return {}, {}
    sub = exif.get_ifd(_IFD.Exif)
    make, model = _text(exif.get(_T.Make)), _text(exif.get(_T.Model))
    camera = model if make and model and model.startswith(make) else \
        " ".join(p for p in (make, model) if p) or None
    aperture = _ratio(sub.get(_T.FNumber))
    exposure = _ratio(sub.get(_T.ExposureTime))
    focal = _ratio(sub.get(_T.FocalLength))
    iso = sub.get(_T.ISOSpeedRatings)
    fields: dict[str, Any] = {
        "camera": camera,
        "make": make,
        "model": model,
        "lens": _text(sub.get(_T.LensModel)),
        "date_taken": _exif_date(sub.get(_T.DateTimeOriginal) or exif.get(_T.DateTime)),
        "orientation": int(exif.get(_T.Orientation, 1) or 1),
        "iso": int(iso[0] if isinstance(iso, tuple) else iso) if iso else None,
        "aperture": f"f/{aperture:g}" if aperture else None,
        "exposure_time": (f"1/{round(1 / exposure)}" if exposure and exposure < 1
                          else f"{exposure:g}s" if exposure else None),
        "focal_length_mm": round(focal, 1) if focal else None,
        "software": _text(exif.get(_T.Software)),
    }
    gps_ifd = exif.get_ifd(_IFD.GPSInfo)
    gps: dict[str, Any] = {}
    if gps_ifd:
        latitude = _gps_degrees(gps_ifd.get(ExifTags.GPS.GPSLatitude),
                                gps_ifd.get(ExifTags.GPS.GPSLatitudeRef))
        longitude = _gps_degrees(gps_ifd.get(ExifTags.GPS.GPSLongitude),
                                 gps_ifd.get(ExifTags.GPS.GPSLongitudeRef))
        altitude = _ratio(gps_ifd.get(ExifTags.GPS.GPSAltitude))
        gps = {k: v for k, v in {"latitude": latitude, "longitude": longitude,
                                 "altitude_m": round(altitude, 1) if altitude else None}.items()
               if v is not None}
    return {k: v for k, v in fields.items() if v is not None}, gps


def image_metadata(path: Path, limits: MediaLimits) -> dict[str, Any]:
    """The spec's ``dimensions`` and ``exif``, plus ``image`` (format, mode, frames) and,
    apart, ``gps``. Raises like ``open_image``; ``metadata.extract`` catches."""
    with open_image(path, limits) as image:
        info = image_info(image)
        exif, gps = exif_of(image)
    result: dict[str, Any] = {
        "dimensions": {"width": info.width, "height": info.height},
        "image": {"format": info.format.lower(), "color_mode": info.mode,
                  "frames": info.frames, "animated": info.frames > 1},
    }
    if exif:
        result["exif"] = exif
    if gps:
        result["gps"] = gps
    return result


class ImageEngine(Protocol):
    """What the transformations need of an image library (swap Pillow by implementing it)."""

    def render(self, source: Path, output: Path, *, box: tuple[int | None, int | None] | None,
               fmt: str, quality: int, limits: MediaLimits, deadline: Deadline,
               keep_ratio: bool = True, upscale: bool = True) -> dict[str, Any]: ...

    def source_format(self, path: Path, limits: MediaLimits) -> str: ...

    def metadata(self, path: Path, limits: MediaLimits) -> dict[str, Any]: ...


class PillowImages:
    render = staticmethod(render)
    source_format = staticmethod(source_format)
    metadata = staticmethod(image_metadata)


engine: ImageEngine = PillowImages()
