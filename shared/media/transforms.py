"""One job function per transformation type, all with the same signature (``Job``):

    job(source_path, output_path, params, limits, progress) -> result

They work on local files: the worker streams the source from storage into a temporary file
(decrypted if need be) under ``TEMP_STORAGE_PATH``, runs the job, and uploads
``output_path``. ``progress`` receives a percent (0-100) from the job's thread. ``result``
describes the output: ``mime_type``, ``extension``, ``size_bytes`` and what the type adds
(``dimensions``, ``duration_seconds``, ``extracted_text_length``, ``words``, ``language``,
``pages``). Jobs are synchronous and CPU-bound: run them with ``jobs.run_job``, which keeps
them off the event loop.

The source's kind is sniffed from its first bytes again (never taken from a name).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.errors import UnreadableMedia
from shared.media import documents, images, ocr, params, probe, video
from shared.media.detect import OCTET_STREAM, SNIFF_BYTES, detect_mime
from shared.media.limits import Deadline, MediaLimits

ProgressCallback = Callable[[float], None]
Result = dict[str, Any]
Job = Callable[[Path, Path, Any, MediaLimits, ProgressCallback], Result]

# The specification's defaults (IMAGE_QUALITY, VIDEO_BITRATE), for parameters that reach a
# job unresolved; the registry normally fills in the configured values first.
DEFAULT_QUALITY = 85
DEFAULT_BITRATE = "2000k"

IMAGE_SOURCES = {"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp",
                 "image/gif": "gif", "image/tiff": "png", "image/x-ms-bmp": "png",
                 "image/bmp": "png"}
VIDEO_SOURCES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/avi",
                           "video/x-msvideo", "video/x-matroska"})
TEXT_SOURCES = frozenset({documents.PDF, documents.DOCX, *documents.RTF, *documents.TEXT})


def sniff(path: Path) -> str:
    with path.open("rb") as source:
        return detect_mime(source.read(SNIFF_BYTES))


def image_target(requested: str | None, source_mime: str) -> str:
    """The output format: the one asked for, else the source's own (PNG for TIFF/BMP)."""
    return requested or IMAGE_SOURCES.get(source_mime, "png")


def _quality(value: int | None) -> int:
    return value if value is not None else DEFAULT_QUALITY


def _bits(value: str | None) -> int:
    return params.bitrate_bits(value or DEFAULT_BITRATE)


def _require(mime: str, accepted: Any, what: str) -> None:
    if mime not in accepted:
        raise UnreadableMedia(f"the source is {mime}, not {what}")


@contextmanager
def _scratch(output: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=".media-", dir=output.parent) as directory:
        yield Path(directory)


# Images -----------------------------------------------------------------------------------

def image_resize(source: Path, output: Path, p: params.ImageResize, limits: MediaLimits,
                 progress: ProgressCallback) -> Result:
    mime = sniff(source)
    _require(mime, IMAGE_SOURCES, "a raster image")
    result = images.engine.render(source, output, box=(p.width, p.height),
                                  fmt=image_target(p.format, mime), quality=_quality(p.quality),
                                  limits=limits, deadline=Deadline.of(limits),
                                  keep_ratio=p.maintain_aspect_ratio)
    progress(100.0)
    return result


def image_format_conversion(source: Path, output: Path, p: params.ImageFormatConversion,
                            limits: MediaLimits, progress: ProgressCallback) -> Result:
    _require(sniff(source), IMAGE_SOURCES, "a raster image")
    result = images.engine.render(source, output, box=None, fmt=p.format,
                                  quality=_quality(p.quality), limits=limits,
                                  deadline=Deadline.of(limits))
    progress(100.0)
    return result


def image_compression(source: Path, output: Path, p: params.ImageCompression,
                      limits: MediaLimits, progress: ProgressCallback) -> Result:
    mime = sniff(source)
    _require(mime, IMAGE_SOURCES, "a raster image")
    result = images.engine.render(source, output, box=None, fmt=image_target(p.format, mime),
                                  quality=_quality(p.quality), limits=limits,
                                  deadline=Deadline.of(limits))
    progress(100.0)
    return result


# Video ------------------------------------------------------------------------------------

def _transcode(source: Path, output: Path, enc: video.Encoding, limits: MediaLimits,
               progress: ProgressCallback) -> Result:
    _require(sniff(source), VIDEO_SOURCES, "a video")
    info = probe.probe(source, limits)
    return video.engine.transcode(source, output, info, enc, limits, Deadline.of(limits),
                                  progress)


def video_resize(source: Path, output: Path, p: params.VideoResize, limits: MediaLimits,
                 progress: ProgressCallback) -> Result:
    enc = video.Encoding(p.format, width=p.width, height=p.height,
                         keep_ratio=p.maintain_aspect_ratio, bitrate=_bits(p.bitrate))
    return _transcode(source, output, enc, limits, progress)


def video_format_conversion(source: Path, output: Path, p: params.VideoFormatConversion,
                            limits: MediaLimits, progress: ProgressCallback) -> Result:
    enc = video.Encoding(p.format, width=p.width, fps=p.fps,
                         bitrate=None if p.format == "gif" else _bits(p.bitrate))
    return _transcode(source, output, enc, limits, progress)


def video_bitrate_adjustment(source: Path, output: Path, p: params.VideoBitrateAdjustment,
                             limits: MediaLimits, progress: ProgressCallback) -> Result:
    enc = video.Encoding(p.format, bitrate=_bits(p.bitrate),
                         audio_bitrate=params.bitrate_bits(p.audio_bitrate))
    return _transcode(source, output, enc, limits, progress)


# Text -------------------------------------------------------------------------------------

def text_extraction(source: Path, output: Path, p: params.TextExtraction, limits: MediaLimits,
                    progress: ProgressCallback) -> Result:
    mime = sniff(source)
    if mime == OCTET_STREAM and documents.is_text(source):
        mime = "text/plain"  # text in another encoding than UTF-8
    _require(mime, TEXT_SOURCES, "a PDF, DOCX, RTF or text document")
    deadline = Deadline.of(limits)
    extra: Result = {}
    with documents.text_output(output, limits) as sink:
        if mime == documents.PDF:
            extra["pages"] = documents.pdf_text(source, sink, limits, deadline, progress)
        elif mime == documents.DOCX:
            documents.docx_text(source, sink, limits, deadline, progress)
        elif mime in documents.RTF:
            with _scratch(output) as scratch:
                documents.rtf_text(source, sink, limits, deadline, progress,
                                   scratch / "rtf.txt")
        else:
            extra["source_encoding"] = documents.plain_text(source, sink, limits, deadline,
                                                            progress)
    return {"mime_type": "text/plain", "extension": ".txt", **sink.summary(), **extra}


def ocr_text(source: Path, output: Path, p: params.Ocr, limits: MediaLimits,
             progress: ProgressCallback) -> Result:
    """Printed text of an image, or of the first MEDIA_MAX_OCR_PAGES pages of a scan."""
    mime = sniff(source)
    _require(mime, {*IMAGE_SOURCES, documents.PDF}, "an image or a PDF")
    deadline = Deadline.of(limits)
    pages = 0
    with documents.text_output(output, limits) as sink:
        for page in _ocr_pages(source, mime, limits, deadline):
            deadline.check()
            if pages:
                sink.write("\n\f\n")
            sink.write(ocr.page_text(ocr.engine.read(page), p.min_confidence))
            pages += 1
            progress(min(99.0, 100 * pages / max(1, limits.max_ocr_pages)))
    progress(100.0)
    return {"mime_type": "text/plain", "extension": ".txt", "pages": pages,
            **sink.summary(among=list(p.languages))}


def _ocr_pages(source: Path, mime: str, limits: MediaLimits, deadline: Deadline) -> Iterator:
    if mime == documents.PDF:
        yield from documents.pdf_page_images(source, limits, deadline,
                                             pages=limits.max_ocr_pages)
        return
    with images.open_image(source, limits) as image:
        yield images.oriented(image)


# Thumbnails -------------------------------------------------------------------------------

def thumbnail_generation(source: Path, output: Path, p: params.ThumbnailGeneration,
                         limits: MediaLimits, progress: ProgressCallback) -> Result:
    """From an image, a PDF's first page or a video frame; never enlarged."""
    mime = sniff(source)
    deadline = Deadline.of(limits)
    box = (p.width, p.height)

    def render(image: Path) -> Result:
        return images.engine.render(image, output, box=box, fmt=p.format,
                                    quality=_quality(p.quality), limits=limits,
                                    deadline=deadline, upscale=False)

    if mime in IMAGE_SOURCES:
        result = render(source)
    else:
        with _scratch(output) as scratch:
            frame = scratch / "frame.png"
            if mime == documents.PDF:
                page = next(documents.pdf_page_images(source, limits, deadline, pages=1,
                                                      box=box), None)
                if page is None:
                    raise UnreadableMedia("the PDF has no page")
                page.save(frame, format="PNG", compress_level=1)
            elif mime in VIDEO_SOURCES:
                info = probe.probe(source, limits)
                video.engine.frame_at(source, frame, info, p.time_seconds,
                                      (2 * p.width, 2 * p.height), limits, deadline)
            else:
                raise UnreadableMedia(f"no thumbnail can be made from {mime}")
            result = render(frame)
    progress(100.0)
    return result
