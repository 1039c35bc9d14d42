"""Metadata extraction for ``file_metadata`` and ``GET /files/{id}``: what is inside a file,
in the specification's ``metadata`` shape.

``extract_metadata`` never raises for a bad file: an unreadable or over-limit file gives
``{"extraction": {"status": "failed", "error_code", "error_message"}}`` so the blob
trigger records the failure once and moves on. ``gps`` is kept apart from ``exif``: store
it as its own metadata type, shown only to the owner, never copied into derived images.
Synchronous and CPU-bound like the jobs: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.errors import TransformationFailed
from shared.media import documents, images, probe
from shared.media.detect import normalise
from shared.media.limits import MediaLimits
from shared.media.transforms import IMAGE_SOURCES

SVG = "image/svg+xml"


def _extract(path: Path, mime: str, limits: MediaLimits) -> dict[str, Any]:
    major = mime.split("/", 1)[0]
    if mime in IMAGE_SOURCES:
        return images.engine.metadata(path, limits)
    if mime == SVG:
        return {"image": {"format": "svg", "rasterised": False}}
    if major in ("video", "audio"):
        # Headers only: a video past MEDIA_MAX_VIDEO_SECONDS is described all the same (the
        # limit bounds the work of transforming it).
        return probe.media_metadata(probe.probe(path, limits))
    if mime == documents.PDF:
        return documents.pdf_metadata(path, limits)
    if mime == documents.DOCX:
        return documents.docx_metadata(path, limits)
    if mime in documents.RTF:
        return documents.text_metadata(path, limits, rtf=True)
    if mime in documents.TEXT:
        return documents.text_metadata(path, limits)
    return {}


def extract_metadata(path: Path, mime_type: str, limits: MediaLimits) -> dict[str, Any]:
    """Metadata of the local file ``path`` whose content type (as detected) is
    ``mime_type``; always a dict with ``extraction.status`` = ``done`` | ``failed``."""
    try:
        result = _extract(path, normalise(mime_type), limits)
    except TransformationFailed as exc:
        return {"extraction": {"status": "failed", "error_code": exc.code,
                               "error_message": exc.message, "details": exc.details}}
    except Exception as exc:  # a decoder's own error on a hostile file: recorded, not raised
        return {"extraction": {"status": "failed", "error_code": "TRANSFORMATION_FAILED",
                               "error_message": f"the file could not be read: "
                                                f"{type(exc).__name__}: {exc}"[:500],
                               "details": {}}}
    return {**result, "extraction": {"status": "done"}}
