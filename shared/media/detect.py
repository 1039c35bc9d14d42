"""Identify a file's type from its first bytes (magic numbers), never from its name.

puremagic recognises binary formats by their signatures. A signature only a few letters long
also begins ordinary sentences ("BMW est une voiture allemande."), so a format whose
signature is that short is believed only when its structure is there (``structure``), and on
text, a signature without such a check is believed only for markup or when the client
declared that very type. Markup is recognised the way browsers sniff it (the WHATWG MIME
Sniffing patterns), so an HTML page cannot pass as plain text. Plain text has no magic
number: it is UTF-8, or UTF-16 behind its byte order mark, decoded for real and without
control characters (a BOM alone makes nothing text). An image whose sniffed bytes hold HTML
markup is a polyglot that a browser could run: it is not accepted as an image.

The sample is the file's first ``SNIFF_BYTES``; a shorter sample is the whole file (as the
upload passes it), so that structures at the end of a file (a PDF's trailer) are checked.
"""

from __future__ import annotations

import mimetypes
import unicodedata

import puremagic

from shared.media import structure

SNIFF_BYTES = 8192
OCTET_STREAM = "application/octet-stream"

_EXTENSIONS = {"image/jpeg": ".jpg", "text/plain": ".txt", "video/quicktime": ".mov",
               "audio/mpeg": ".mp3", "image/svg+xml": ".svg"}
_DOCUMENTS = {
    "application/pdf", "application/rtf", "text/rtf", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_TEXT_CONTROL_OK = {9, 10, 12, 13}
# UTF-16 decodes almost any pair of bytes, so its text must also be made of assigned,
# public characters: unassigned, private-use and surrogate code points mean binary.
_NOT_UTF16_TEXT = frozenset({"Cn", "Co", "Cs"})
_OOXML = "application/vnd.openxmlformats-officedocument."
_XML = frozenset({"text/xml", "application/xml"})
# WHATWG MIME Sniffing, "rules for identifying an unknown MIME type": tags that make a
# browser render the bytes as HTML (case-insensitive, after leading whitespace, followed by
# a space or '>'), and the start of an XML document.
_HTML_TAGS = ("<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div",
              "<font", "<table", "<a", "<style", "<title", "<b", "<body", "<br",
              "<p", "<!--")
_TAG_END = " \t\n\x0c\r>"
_BOM = b"\xef\xbb\xbf"
_UTF16 = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
# Markup that turns an image into an HTML page when a browser is made to render it.
_POLYGLOT_MARKUP = (b"<script", b"<html", b"<body", b"<iframe", b"<object", b"<embed",
                    b"<!doctype html")


def normalise(mime: str | None) -> str:
    return (mime or "").split(";", 1)[0].strip().lower()


def _decoded(data: bytes, encoding: str, complete: bool) -> str | None:
    """``data`` decoded; only a character cut by the end of the sample is excused (a whole
    file that ends in half a character is not text)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if complete or exc.end != len(data) or exc.reason not in {"unexpected end of data",
                                                                  "truncated data"}:
            return None
        return data[: exc.start].decode(encoding)


def _as_text(sample: bytes) -> str | None:
    """The sample as text, or None when it is not text."""
    encoding = _UTF16.get(sample[:2])
    text = _decoded(sample[2:] if encoding else sample.removeprefix(_BOM), encoding or "utf-8",
                    complete=len(sample) < SNIFF_BYTES)
    if text is None or any(ord(c) < 32 and ord(c) not in _TEXT_CONTROL_OK for c in text):
        return None
    if encoding and any(unicodedata.category(c) in _NOT_UTF16_TEXT for c in text):
        return None
    return text


def _markup(head: str) -> str | None:
    """text/html or text/xml when a browser would sniff the text as such."""
    head = head.removeprefix("\ufeff").lstrip(" \t\n\x0c\r")[:64].lower()
    for tag in _HTML_TAGS:
        if head.startswith(tag) and len(head) > len(tag) and head[len(tag)] in _TAG_END:
            return "text/html"
    return "text/xml" if head.startswith("<?xml") else None


def _is_markup(mime: str) -> bool:
    return mime in {"text/html", "application/xhtml+xml"} or mime.endswith(("/xml", "+xml"))


def _signatures(sample: bytes, declared: str, is_text: bool) -> list[str]:
    """Types whose signature the sample has and whose structure holds, most likely first.

    puremagic's text/plain guesses are not trusted (a BOM is no proof of text)."""
    try:
        matches = puremagic.magic_string(sample)
    except (puremagic.PureError, ValueError):
        return []
    complete = len(sample) < SNIFF_BYTES
    found: list[str] = []
    for match in matches:
        mime = match.mime_type
        if not mime or mime == "text/plain":
            continue
        check = structure.check_for(match.byte_match)
        if check is not None:
            believed = check(sample, complete)
        else:
            believed = not is_text or _is_markup(mime) or mime == declared
        if believed:
            found.append(mime)
    return found


def _refine(mime: str, sample: bytes, text: str | None) -> str:
    """Settle what magic numbers alone leave open."""
    if mime in _XML and (b"<svg" in sample or (text is not None and "<svg" in text)):
        return "image/svg+xml"  # editors put declarations and comments before <svg>
    if mime.startswith(_OOXML) and b"[Content_Types].xml" not in sample:
        return "application/zip"  # an Office document names its parts first
    return mime


def _polyglot(mime: str, sample: bytes) -> bool:
    """An image (not SVG, which is markup) whose bytes hold HTML markup."""
    if not mime.startswith("image/") or _is_markup(mime):
        return False
    lowered = sample.lower()
    return any(tag in lowered for tag in _POLYGLOT_MARKUP)


def detect_mime(sample: bytes, declared: str | None = None) -> str:
    """Type of the content whose first bytes are ``sample``.

    When the magic number fits several types (a ZIP is also a DOCX), the declared type
    settles it if it is one of them.
    """
    declared = normalise(declared)
    text = _as_text(sample)
    candidates = _signatures(sample, declared, text is not None)
    if declared in candidates:
        mime = declared
    elif candidates and candidates[0] not in _XML:
        mime = candidates[0]
    else:
        head = text if text is not None else sample[:256].decode("latin-1")
        markup = _markup(head) or (candidates[0] if candidates else None)
        mime = markup or ("text/plain" if text is not None else OCTET_STREAM)
    mime = _refine(mime, sample, text)
    return OCTET_STREAM if _polyglot(mime, sample) else mime


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
