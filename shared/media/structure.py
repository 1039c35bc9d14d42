"""Structure checks for the formats whose magic number is only a few letters long.

``BM``, ``MZ``, ``ID3``, ``%PDF``, ``RIFF``, ``OggS``, ``fLaC`` and ``GIF89a`` also begin
ordinary sentences ("BMW est une voiture allemande."), so a signature alone does not make a
file one of these formats: the fields that follow it must have the values the format
requires. Each check reads only the sniffed sample (its first ``SNIFF_BYTES``); when the
sample is the whole file (``complete``), structures at the end are checked too.

Every check is a fixed number of field reads or one bounded forward scan: no pattern that
could backtrack runs over client bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

Check = Callable[[bytes, bool], bool]

# BITMAPCOREHEADER, BITMAPINFOHEADER, the V2/V3 info headers, OS/2 2.x, V4, V5.
_DIB_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_BMP_DEPTHS = frozenset({1, 2, 4, 8, 16, 24, 32, 64})
# Extension labels of GIF89a: plain text, graphic control, comment, application.
_GIF_EXTENSIONS = frozenset({0x01, 0xF9, 0xFE, 0xFF})
# RIFF form types of the formats puremagic names a RIFF file as.
_RIFF_FORMS = frozenset({b"WAVE", b"AVI ", b"WEBP", b"RMID", b"ACON", b"CDXA", b"QLCM",
                         b"4XMV", b"AMV ", b"CMX1"})
_PDF_WHITESPACE = b"\x00\t\n\x0c\r "
_PDF_DELIMITERS = b"()<>[]{}/%"
_PDF_EOF_WINDOW = 1024  # readers look for %%EOF in the last KiB


def _bmp(sample: bytes, complete: bool) -> bool:
    """BITMAPFILEHEADER then a DIB header of a known size, one plane, a real colour depth,
    and pixel data that starts after both headers."""
    if len(sample) < 30:
        return False
    file_size, _, _, data_offset, dib_size = struct.unpack_from("<IHHII", sample, 2)
    if dib_size not in _DIB_HEADER_SIZES or data_offset < 14 + dib_size:
        return False
    if file_size and file_size < data_offset:  # some writers leave the size 0
        return False
    planes, depth = struct.unpack_from("<HH", sample, 22 if dib_size == 12 else 26)
    return planes == 1 and depth in _BMP_DEPTHS


def _gif(sample: bytes, complete: bool) -> bool:
    """After the logical screen descriptor (and its colour table) comes an extension with a
    label GIF defines, or an image descriptor whose LZW code size is 2 to 12. (Both colour
    tables together are under 1.6 KiB, so a sample that is not the whole file holds them.)"""
    if len(sample) < 13:
        return False
    position = 13 + _colour_table_size(sample[10])
    if position + 1 >= len(sample):
        return False
    introducer = sample[position]
    if introducer == 0x21:  # '!'
        return sample[position + 1] in _GIF_EXTENSIONS
    if introducer != 0x2C or position + 10 >= len(sample):  # ','
        return False
    code_at = position + 10 + _colour_table_size(sample[position + 9])
    return code_at < len(sample) and 2 <= sample[code_at] <= 12


def _colour_table_size(packed: int) -> int:
    return 3 << ((packed & 0x07) + 1) if packed & 0x80 else 0


def _skip_pdf_comments(sample: bytes, position: int) -> int:
    """Past whitespace and ``%`` comment lines (the binary marker line after the header)."""
    in_comment = False
    while position < len(sample):
        byte = sample[position]
        if in_comment:
            in_comment = byte not in b"\r\n"
        elif byte == 0x25:  # '%'
            in_comment = True
        elif byte not in _PDF_WHITESPACE:
            break
        position += 1
    return position


def _digits(sample: bytes, position: int) -> int:
    """Where a run of ASCII digits starting at ``position`` ends (``position`` if none)."""
    while position < len(sample) and 0x30 <= sample[position] <= 0x39:
        position += 1
    return position


def _pdf(sample: bytes, complete: bool) -> bool:
    """``%PDF-x.y`` alone on its line, then (after comment lines) the first indirect object
    ``N G obj``; a whole file also ends with ``%%EOF`` in its last KiB."""
    if not (sample.startswith(b"%PDF-") and len(sample) > 8 and sample[5:6].isdigit()
            and sample[6:7] == b"." and sample[7:8].isdigit()):
        return False
    position = 8
    while position < len(sample) and sample[position] in b" \t":
        position += 1
    if position >= len(sample) or sample[position] not in b"\r\n":
        return False
    position = _skip_pdf_comments(sample, position)
    for _ in range(2):  # object number, generation number
        after = _digits(sample, position)
        if after == position or after >= len(sample) or sample[after] not in _PDF_WHITESPACE:
            return False
        position = after
        while position < len(sample) and sample[position] in _PDF_WHITESPACE:
            position += 1
    after = position + 3
    if not sample.startswith(b"obj", position) or (
            after < len(sample) and sample[after] not in _PDF_WHITESPACE + _PDF_DELIMITERS):
        return False
    return not complete or b"%%EOF" in sample[-_PDF_EOF_WINDOW:]


def _riff(sample: bytes, complete: bool) -> bool:
    """A known form type, then a first chunk with a printable FourCC that fits in the RIFF
    size (0 and 0xFFFFFFFF are the "unknown size" of streaming writers)."""
    if len(sample) < 20:
        return False
    size, form, chunk_id, chunk_size = struct.unpack_from("<I4s4sI", sample, 4)
    if form not in _RIFF_FORMS and not form.startswith(b"CDR"):
        return False
    if not all(0x20 <= byte <= 0x7E for byte in chunk_id):
        return False
    return size in (0, 0xFFFFFFFF) or chunk_size in (0, 0xFFFFFFFF) or chunk_size + 12 <= size


def _mz(sample: bytes, complete: bool) -> bool:
    """A DOS header with a last-page count under 512 and at least one page; when its
    relocation-table offset says a new-format header follows (0x40 or more) and that header
    is inside the sample, it is there (``PE\\0\\0``, ``NE``, ``LE``, ``LX``)."""
    if len(sample) < 64:
        return False
    last_page, pages, _, header_paragraphs = struct.unpack_from("<HHHH", sample, 2)
    if last_page >= 512 or pages == 0 or header_paragraphs < 2:
        return False
    relocations = struct.unpack_from("<H", sample, 0x18)[0]
    new_header = struct.unpack_from("<I", sample, 0x3C)[0]
    if relocations < 0x40 or not 64 <= new_header <= len(sample) - 4:
        return True  # a plain DOS program, or a header past the sample
    found = sample[new_header:new_header + 4]
    return found == b"PE\x00\x00" or found[:2] in (b"NE", b"LE", b"LX")


def _id3(sample: bytes, complete: bool) -> bool:
    """ID3v2.2 to 2.4: version, revision, no undefined flag bit, a sync-safe tag size."""
    if len(sample) < 10:
        return False
    major, revision, flags = sample[3], sample[4], sample[5]
    return (2 <= major <= 4 and revision != 0xFF and flags & 0x0F == 0
            and all(byte < 0x80 for byte in sample[6:10]))


def _ogg(sample: bytes, complete: bool) -> bool:
    """Ogg page header: stream structure version 0 and only the three defined flags."""
    return len(sample) >= 27 and sample[4] == 0 and sample[5] & 0xF8 == 0


def _flac(sample: bytes, complete: bool) -> bool:
    """The first metadata block is STREAMINFO, 34 bytes long."""
    return len(sample) >= 8 and sample[4] & 0x7F == 0 and sample[5:8] == b"\x00\x00\x22"


def _rtf(sample: bytes, complete: bool) -> bool:
    # "{\\rtf1" then a control word, a group or a line break; a whole file closes its group.
    if not sample.startswith(b"{\\rtf1") or sample[6:7] not in (b"\\", b"{", b"\r", b"\n", b" "):
        return False
    return not complete or sample.rstrip(b"\x00 \t\r\n").endswith(b"}")


_CHECKS: tuple[tuple[bytes, Check], ...] = (
    (b"BM", _bmp), (b"GIF8", _gif), (b"%PDF", _pdf), (b"RIFF", _riff), (b"MZ", _mz),
    (b"ID3", _id3), (b"OggS", _ogg), (b"fLaC", _flac), (b"{\\rtf", _rtf),
)


def check_for(signature: bytes) -> Check | None:
    """The structure check of the format whose magic number ``signature`` begins with."""
    return next((check for prefix, check in _CHECKS if signature.startswith(prefix)), None)
