"""Sniffing both ways: text whose first letters look like a magic number is text, bytes
behind a byte order mark are not text unless they decode to text, and an image holding HTML
is no image."""

from __future__ import annotations

import random
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.media import structure
from shared.media.detect import OCTET_STREAM, SNIFF_BYTES, detect_mime
from tests.unit.media.test_detect import GIF, GIF87, JPEG, PDF, PNG, WEBP

# --- text that begins like a binary format ------------------------------------------------

SENTENCES = [
    "BMW est une voiture allemande.",
    "BM est une abréviation.",
    "MZ est une moto est-allemande.",
    "MZ-0 is a mountain.",
    "ID3 tags name the artist of an MP3.",
    "ID3v2 est une norme.",
    "GIF89a is the version that added animation.",
    "GIF87a, la première version.",
    "%PDF is how every PDF file begins.",
    "%PDF-1.7\nest la dernière version de la norme ISO 32000-1.",
    "%PDF-2.0 est plus récent.",
    "RIFF est un format de conteneur.",
    "RIFFs on a guitar.",
    "OggS marks an Ogg page.",
    "fLaC compresse le son sans perte.",
    "FWS: re: la réunion de demain",
    "CWS — compte rendu",
    "if only it were that simple",
    "v=1 means version one",
    "P1 est la priorité la plus haute.",
    "%! marque un fichier PostScript.",
    "{ accolade ouvrante }",
    "MThd est l'en-tête d'un fichier MIDI.",
]


@pytest.mark.parametrize("sentence", SENTENCES)
@pytest.mark.parametrize("declared", [None, "text/plain", "application/octet-stream"])
def test_a_sentence_that_begins_with_a_magic_number_is_text(sentence: str,
                                                            declared: str | None) -> None:
    line = (sentence + "\n").encode()
    assert detect_mime(line, declared) == "text/plain"
    long_text = (line + "Suite du texte, ligne après ligne.\n".encode() * 400)[:SNIFF_BYTES]
    assert detect_mime(long_text, declared) == "text/plain"


@pytest.mark.parametrize("sentence", ["BMW est une voiture allemande.", "GIF89a is a format",
                                      "%PDF is nice", "RIFF raff", "ID3 tags"])
def test_a_sentence_declared_as_the_binary_format_is_refused_as_that_format(
        sentence: str) -> None:
    """Declaring the type the first letters suggest does not make text an image: the
    upload then fails on the mismatch between declared and detected types."""
    for declared in ("image/x-ms-bmp", "image/gif", "application/pdf", "audio/wav",
                     "audio/mpeg"):
        assert detect_mime(sentence.encode(), declared) == "text/plain"


FRENCH = ("le la les un une des voiture allemande maison été hiver fenêtre où déjà "
          "garçon cœur naïve élève château forêt ça très brûlé Noël zéro objets")
ENGLISH = ("the a an car house summer winter window where already boy heart naive "
           "pupil castle forest that very burnt Christmas zero objects of PDF")
VOCABULARY = f"{FRENCH} {ENGLISH}".split(" ")
MAGIC_WORDS = ["BMW", "BM", "MZ", "ID3", "GIF89a", "GIF87a", "%PDF", "%PDF-1.4", "%PDF-1.7\n",
               "RIFF", "OggS", "fLaC", "FWS", "CWS", "ZWS", "if", "v=", "P1", "P4", "P6", "%!",
               "{", "[", "PK", "MThd", "BZh", "ustar", "II*", "MM", "8BPS", "wOFF", "ftyp",
               "#!", "@", "1 0 obj", "12", "0", "%%EOF", "WEBP", "WAVE", "AVI "]
WORDS = st.sampled_from(VOCABULARY + MAGIC_WORDS + ["1", "42", "2024", "-", "—", ","])
LINE = st.builds(
    lambda first, rest, end: " ".join([first, *rest]) + end,
    st.sampled_from(MAGIC_WORDS + VOCABULARY),
    st.lists(WORDS, max_size=14),
    st.sampled_from([".", "!", "?", "", " ;", ":"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(LINE, min_size=1, max_size=400),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_random_french_and_english_lines_are_never_refused_as_binary(
        lines: list[str], newline: str) -> None:
    sample = newline.join(lines).encode()[:SNIFF_BYTES]
    assert detect_mime(sample) == "text/plain", sample[:80]
    assert detect_mime(sample, "text/plain") == "text/plain", sample[:80]


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=60),
       encoding=st.sampled_from(["utf-16-le", "utf-16-be"]))
def test_utf16_text_with_its_byte_order_mark_is_text(lines: list[str], encoding: str) -> None:
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    sample = (bom + "\n".join(lines).encode(encoding))[:SNIFF_BYTES]
    assert detect_mime(sample, "text/plain") == "text/plain"


# --- a byte order mark proves nothing -----------------------------------------------------

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8" + bytes(47)


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
@pytest.mark.parametrize("declared", [None, "text/plain"])
def test_an_executable_behind_a_byte_order_mark_is_not_text(bom: bytes,
                                                           declared: str | None) -> None:
    assert detect_mime(bom + EXE + bytes(4096), declared) == OCTET_STREAM


@pytest.mark.parametrize("bom", [b"\xff\xfe", b"\xfe\xff"])
def test_random_bytes_behind_a_byte_order_mark_are_not_text(bom: bytes) -> None:
    generator = random.Random(6)
    for _ in range(200):
        sample = bom + generator.randbytes(SNIFF_BYTES - 2)
        assert detect_mime(sample, "text/plain") == OCTET_STREAM


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("page", ["<!DOCTYPE html><html><script>alert(1)</script>",
                                  "  <html><body>x</body></html>", "<script>x</script>"])
def test_utf16_html_is_html(encoding: str, page: str) -> None:
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    assert detect_mime(bom + page.encode(encoding), "text/plain") == "text/html"


def test_utf16_svg_is_svg() -> None:
    svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'
    assert detect_mime(b"\xff\xfe" + svg.encode("utf-16-le"), "text/plain") == "image/svg+xml"


@pytest.mark.parametrize("sample", [
    b"\xff\xfe" + "bonjour\x00".encode("utf-16-le"),  # a NUL character
    b"\xff\xfe" + "bon\x1bjour".encode("utf-16-le"),  # an escape
    b"\xff\xfe" + "\ue000\ue001".encode("utf-16-le"),  # private use
    b"\xff\xfe\x00\xd8a\x00",  # a lone surrogate
    b"\xff\xfea\x00b",  # a whole file ending in half a character
    b"\xff\xfe\xfd",
])
def test_utf16_that_is_not_text(sample: bytes) -> None:
    assert detect_mime(sample, "text/plain") == OCTET_STREAM


def test_a_utf16_character_cut_by_the_end_of_the_sample_is_excused() -> None:
    rockets = b"\xff\xfe" + ("🚀" * SNIFF_BYTES).encode("utf-16-le")  # surrogate pairs
    sample = rockets[:SNIFF_BYTES]
    assert len(sample[2:]) % 4 == 2  # ends with a high surrogate whose pair was cut off
    assert detect_mime(sample) == "text/plain"
    assert detect_mime(rockets[:SNIFF_BYTES - 4]) == OCTET_STREAM  # the whole file: no cut


# --- the formats themselves still pass ----------------------------------------------------

def bmp(width: int = 2, height: int = 2) -> bytes:
    row = (b"\x00\x00\xff" * width).ljust((width * 3 + 3) & ~3, b"\x00")
    pixels = row * height
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835,
                       0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + len(info) + len(pixels), 0, 0, 54)
    return header + info + pixels


def wav() -> bytes:
    data = bytes(100)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack(
        "<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


ID3_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x00" + bytes(400)
OGG = b"OggS\x00\x02" + bytes(8) + b"\x01\x00\x00\x00" + bytes(8) + b"\x01\x1e\x01vorbis" + bytes(
    40)
FLAC = b"fLaC\x80\x00\x00\x22" + bytes(34) + bytes(64)
PE = EXE[:0x3C] + struct.pack("<I", 0x80) + bytes(0x80 - 0x40) + b"PE\x00\x00" + bytes(200)
PE = PE[:0x18] + b"\x40\x00" + PE[0x1A:]


@pytest.mark.parametrize(("sample", "expected"), [
    (bmp(), "image/x-ms-bmp"), (wav(), "audio/wave"), (ID3_MP3, "audio/mpeg"),
    (FLAC, "audio/flac"), (GIF, "image/gif"), (GIF87, "image/gif"), (PDF, "application/pdf"),
    (WEBP, "image/webp"),
])
def test_well_formed_files_of_short_signature_formats_are_recognised(sample: bytes,
                                                                     expected: str) -> None:
    assert detect_mime(sample) == expected
    check = structure.check_for(sample[:4])
    assert check is not None and check(sample, True)


def test_ogg_and_executables_keep_their_types() -> None:
    assert detect_mime(OGG) not in {"text/plain", OCTET_STREAM}
    assert structure.check_for(b"OggS")(OGG, True)
    assert structure.check_for(b"MZ")(PE, True) and structure.check_for(b"MZ")(EXE, True)
    assert detect_mime(PE) != "text/plain"


def test_structure_is_what_decides_not_the_signature() -> None:
    broken_bmp = bmp()[:14] + struct.pack("<I", 41) + bmp()[18:]  # no such DIB header
    assert detect_mime(broken_bmp) == OCTET_STREAM
    pe_without_pe = PE.replace(b"PE\x00\x00", b"XX\x00\x00")
    assert detect_mime(pe_without_pe) == OCTET_STREAM
    assert detect_mime(b"ID3\x09" + bytes(60)) == OCTET_STREAM  # no ID3v2.9
    assert detect_mime(b"fLaC\x05\x00\x00\x22" + bytes(60)) == OCTET_STREAM
    assert detect_mime(b"RIFF\x10\x00\x00\x00JUNK" + bytes(40)) == OCTET_STREAM


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",  # the whole file, no trailer
    b"%PDF-1.4 plus du texte\n1 0 obj\n<<>>\nendobj\n%%EOF\n",  # no line break after header
    b"%PDF-1.4\nun texte\n%%EOF\n",  # no object
    b"%PDF-1.4\n12 3 objets trouv\xc3\xa9s\n%%EOF\n",  # a word, not the keyword
])
def test_pdf_header_without_a_pdf_structure_is_not_a_pdf(content: bytes) -> None:
    assert detect_mime(content, "application/pdf") != "application/pdf"


def test_pdf_trailer_is_only_required_when_the_sample_is_the_whole_file() -> None:
    head = b"%PDF-1.5\r%\xe2\xe3\xcf\xd3\r\n17 0 obj\r<</Linearized 1>>\rendobj\r"
    assert detect_mime((head + bytes(SNIFF_BYTES))[:SNIFF_BYTES]) == "application/pdf"
    assert detect_mime(head + b"\n%%EOF\r\n") == "application/pdf"
    assert detect_mime(head + b"\n%%EOF" + bytes(2000)) != "application/pdf"


# --- polyglots ----------------------------------------------------------------------------

def gif_with_comment(comment: bytes) -> bytes:
    extension = b"!\xfe" + bytes([len(comment)]) + comment + b"\x00"
    return GIF[:19] + extension + GIF[19:]


@pytest.mark.parametrize("markup", [b"<script>alert(1)</script>", b"<HTML><body>x",
                                    b"<iframe src=//evil.example>", b"<!DOCTYPE html>"])
def test_an_image_holding_html_markup_is_not_accepted_as_an_image(markup: bytes) -> None:
    assert detect_mime(gif_with_comment(b"ok")) == "image/gif"
    assert detect_mime(gif_with_comment(markup), "image/gif") == OCTET_STREAM
    jpeg = JPEG[:20] + b"\xff\xfe" + struct.pack(">H", len(markup) + 2) + markup + JPEG[20:]
    assert detect_mime(jpeg, "image/jpeg") == OCTET_STREAM
    text_chunk = struct.pack(">I", len(markup) + 8) + b"tEXtComment\x00" + markup + bytes(4)
    assert detect_mime(PNG[:33] + text_chunk + PNG[33:], "image/png") == OCTET_STREAM


# --- real files from ffmpeg ---------------------------------------------------------------

@pytest.fixture(scope="module")
def ffmpeg_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Files written by the static ffmpeg of the imageio-ffmpeg wheel (a dev requirement)."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    directory: Path = tmp_path_factory.mktemp("media")
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    picture = ["-f", "lavfi", "-i", "testsrc2=size=64x48:duration=1", "-frames:v", "1"]
    sound = ["-f", "lavfi", "-i", "sine=duration=1"]
    jobs = {"a.bmp": picture, "a.gif": picture, "a.webp": picture, "a.wav": sound,
            "a.flac": sound, "a.ogg": sound, "a.mp3": sound,
            "a.avi": ["-f", "lavfi", "-i", "testsrc2=size=64x48:duration=1", "-c:v", "mjpeg"]}
    files = {}
    for name, args in jobs.items():
        subprocess.run([exe, "-hide_banner", "-loglevel", "error", "-y", *args,
                        str(directory / name)], check=True, timeout=60, capture_output=True)
        files[name] = (directory / name).read_bytes()
    return files


@pytest.mark.parametrize(("name", "expected"), [
    ("a.bmp", "image/x-ms-bmp"), ("a.gif", "image/gif"), ("a.webp", "image/webp"),
    ("a.wav", "audio/wave"), ("a.flac", "audio/flac"), ("a.ogg", "application/ogg"),
    ("a.mp3", "audio/mpeg"), ("a.avi", "video/avi"),
])
def test_files_written_by_ffmpeg_are_recognised(ffmpeg_files: dict[str, bytes], name: str,
                                                expected: str) -> None:
    content = ffmpeg_files[name]
    assert detect_mime(content[:SNIFF_BYTES]) == expected
