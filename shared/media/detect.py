"""Identify a file's type from its first bytes (magic numbers), never from its name.

puremagic recognises binary formats; plain text has no magic number, so it is
recognised by being valid UTF-8 without control bytes.
"""

from __future__ import annotations

import mimetypes

import puremagic

SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"

_EXTENSIONS = {"image/jpeg": ".jpg", "text/plain": ".txt", "video/quicktime": ".mov",
               "audio/mpeg": ".mp3", "image/svg+xml": ".svg"}
_DOCUMENTS = {
    "application/pdf", "application/rtf", "text/rtf", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_TEXT_CONTROL_OK = {9, 10, 12, 13}


def normalise(mime: str | None) -> str:
    return (mime or "").split(";", 1)[0].strip().lower()


def _looks_like_text(sample: bytes) -> bool:
    if not sample:
        return True
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still text.
        if exc.start < len(sample) - 3:
            return False
        text = sample[: exc.start].decode("utf-8")
    return not any(ord(c) < 32 and ord(c) not in _TEXT_CONTROL_OK for c in text)


def detect_mime(sample: bytes, declared: str | None = None) -> str:
    """Type of the content whose first bytes are ``sample``.

    When the magic number fits several types (a ZIP is also a DOCX), the declared type
    settles it if it is one of them.
    """
    declared = normalise(declared)
    try:
        candidates = [m.mime_type for m in puremagic.magic_string(sample) if m.mime_type]
    except (puremagic.PureError, ValueError):
        candidates = []
    if candidates:
        return declared if declared in candidates else candidates[0]
    return "text/plain" if _looks_like_text(sample) else OCTET_STREAM


def file_type(mime: str) -> str:
    """The specification's coarse ``file_type`` (image, video, audio, document, other)."""
    major = mime.split("/", 1)[0]
    if major in {"image", "video", "audio"}:
        return major
    if mime in _DOCUMENTS or major == "text":
        return "document"
    return "other"


def extension_for(mime: str) -> str:
    return _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ".bin"
