"""Identify a file's type from its first bytes (magic numbers), never from its name.

puremagic recognises binary formats. Markup is recognised the way browsers sniff it (the
WHATWG MIME Sniffing patterns), so an HTML page cannot pass as plain text; plain text has
no magic number and is recognised by being valid UTF-8 without control bytes.
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
_OOXML = "application/vnd.openxmlformats-officedocument."
# WHATWG MIME Sniffing, "rules for identifying an unknown MIME type": tags that make a
# browser render the bytes as HTML (case-insensitive, after leading whitespace, followed by
# a space or '>'), and the start of an XML document.
_HTML_TAGS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div",
              b"<font", b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br",
              b"<p", b"<!--")
_TAG_END = b" \t\n\x0c\r>"
_BOM = b"\xef\xbb\xbf"


def normalise(mime: str | None) -> str:
    return (mime or "").split(";", 1)[0].strip().lower()


def _looks_like_text(sample: bytes) -> bool:
    if not sample:
        return True
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Only a multi-byte character cut by the end of the sample is excused.
        if exc.reason != "unexpected end of data":
            return False
        text = sample[: exc.start].decode("utf-8")
    return not any(ord(c) < 32 and ord(c) not in _TEXT_CONTROL_OK for c in text)


def _markup(sample: bytes) -> str | None:
    """text/html or text/xml when a browser would sniff the bytes as such."""
    head = sample.removeprefix(_BOM).lstrip(b" \t\n\x0c\r")[:64].lower()
    for tag in _HTML_TAGS:
        if head.startswith(tag) and len(head) > len(tag) and head[len(tag)] in _TAG_END:
            return "text/html"
    return "text/xml" if head.startswith(b"<?xml") else None


def _refine(mime: str, sample: bytes) -> str:
    """Settle what magic numbers alone leave open."""
    if mime in {"text/xml", "application/xml"} and b"<svg" in sample:
        return "image/svg+xml"  # editors put declarations and comments before <svg>
    if mime.startswith(_OOXML) and b"[Content_Types].xml" not in sample:
        return "application/zip"  # an Office document names its parts first
    return mime


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
    if declared in candidates:
        return _refine(declared, sample)
    if candidates and candidates[0] not in {"text/plain", "text/xml", "application/xml"}:
        return _refine(candidates[0], sample)
    xml = next((c for c in candidates if c != "text/plain"), None)
    markup = _markup(sample) or xml
    if markup:
        return _refine(markup, sample)
    # Text has no magic number (puremagic's text/plain guesses are not trusted either).
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
