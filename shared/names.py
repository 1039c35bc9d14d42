"""Safe file names: what an uploaded name becomes before it is stored, displayed or sent back
in a header. Used by the upload (to store the name) and by delivery (to send it), so it
lives below both."""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_BYTES = 255
FALLBACK_NAME = "download"

# Unicode categories dropped from names: controls (C0, DEL, C1), format characters (bidi
# overrides such as U+202E that disguise "gpj.exe" as "exe.jpg", zero-width characters) and
# lone surrogates (not encodable as UTF-8).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Characters that are not allowed in file names on Windows: the downloader's file system.
_RESERVED = str.maketrans({c: "_" for c in '<>:"|?*'})
_WHITESPACE = re.compile(r"\s+")


def sanitize_filename(name: str) -> str:
    """A file name that is safe to store, display and send back in a header.

    Keeps only the last path component, drops control and format characters, replaces the
    characters Windows forbids with ``_``, collapses whitespace, trims leading dots and spaces
    (no hidden files, no ``..``) and trailing ones (Windows drops them), and keeps at most
    255 UTF-8 bytes, preserving the extension when it can. Never returns an empty string.
    """
    name = unicodedata.normalize("NFC", name)
    name = "".join(c for c in name if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    components = [part for part in re.split(r"[/\\]", name) if part.strip(" .")]
    name = components[-1] if components else ""
    name = _WHITESPACE.sub(" ", name.translate(_RESERVED))
    name = _truncate(name.lstrip(" .").rstrip(" ."), MAX_FILENAME_BYTES)
    return name.rstrip(" .") or FALLBACK_NAME


def _truncate(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` UTF-8 bytes on a character boundary, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    suffix = dot + extension
    if not stem or len(suffix.encode("utf-8")) > 16:
        stem, suffix = name, ""
    budget = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return cut + suffix
