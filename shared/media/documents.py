"""Documents: PDF with pypdfium2 in a child process (text, pages, metadata, page rendering),
DOCX with python-docx, RTF with striprtf, plain text with charset-normalizer's encoding
detection.

Text is written to the output file as it is extracted (``TextSink``), never gathered
whole. Limits come first: the PDF page count before any page is parsed, a DOCX's declared
uncompressed size before it is unzipped, an RTF's size before it is read.
"""

from __future__ import annotations

import codecs
import contextlib
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import charset_normalizer
import docx
from PIL import Image

from shared.errors import MediaLimitExceeded, UnreadableMedia
from shared.media import reader
from shared.media.language import SAMPLE_CHARS, detect_language
from shared.media.limits import Deadline, MediaLimits
from shared.media.proc import python_child, run_limited

ProgressCallback = Callable[[float], None]
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
RTF = frozenset({"application/rtf", "text/rtf"})
TEXT = frozenset({"text/plain", "text/markdown", "text/csv"})
ENCODING_SAMPLE = 64 * 1024
READ_CHUNK = 256 * 1024
WESTERN = ["utf_16", "utf_32", "cp1252", "iso8859_15", "latin_1", "mac_roman"]
PDF_RENDER_DPI = 200  # OCR reads printed text well from 200 dpi


@dataclass
class TextSink:
    """Extracted text streamed to a UTF-8 file (or only counted when ``out`` is None), with
    counts and a sample for the language. Words are counted only for metadata (the split
    costs a third of pdfium's own time on a text-heavy PDF)."""

    out: TextIO | None
    limits: MediaLimits
    count_words: bool = False
    characters: int = 0
    words: int = 0
    bytes_written: int = 0
    sample: list[str] = field(default_factory=list)
    _sampled: int = 0
    _in_word: bool = False

    def write(self, text: str) -> None:
        if not text:
            return
        size = len(text.encode("utf-8"))
        self.limits.check_output(self.bytes_written + size)
        if self.out is not None:
            self.out.write(text)
        self.bytes_written += size
        self.characters += len(text)
        if self.count_words:
            self._count_words(text)
        if self._sampled < SAMPLE_CHARS:
            self.sample.append(text[: SAMPLE_CHARS - self._sampled])
            self._sampled += len(self.sample[-1])

    def _count_words(self, text: str) -> None:
        # Words split across two writes are counted once.
        self.words += len(text.split()) - (1 if self._in_word and not text[0].isspace() else 0)
        self._in_word = not text[-1].isspace()

    def summary(self, among: list[str] | None = None) -> dict[str, Any]:
        counts = {"words": self.words} if self.count_words else {}
        return {"extracted_text_length": self.characters, **counts,
                "language": detect_language("".join(self.sample), among),
                "size_bytes": self.bytes_written}


@contextlib.contextmanager
def text_output(path: Path, limits: MediaLimits) -> Iterator[TextSink]:
    with path.open("w", encoding="utf-8", newline="") as out:
        yield TextSink(out, limits)


# PDF --------------------------------------------------------------------------------------
# PDFium runs in the media reader's warm children (reader.py): it is not thread-safe and
# parses hostile files, so a crash or a hang must end the job, not the host.

def _pdf_date(value: str) -> str | None:
    """PDF 'D:YYYYMMDDHHmmSS...' as ISO 8601 (date and time; the zone is dropped)."""
    digits = value.removeprefix("D:")[:14]
    if len(digits) < 8 or not digits.isdigit():
        return None
    iso = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}"
    if len(digits) == 14:
        iso += f"T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    return iso


def pdf_metadata(path: Path, limits: MediaLimits) -> dict[str, Any]:
    report = reader.ask("metadata", path, limits.max_pdf_pages, SAMPLE_CHARS, limits=limits,
                        deadline=Deadline.of(limits))
    info, sample = report["info"], str(report["sample"])
    document = {
        "pages": report["pages"],
        "title": info.get("Title"),
        "author": info.get("Author"),
        "language": detect_language(sample),
        "created_at": _pdf_date(info.get("CreationDate", "")),
        "producer": info.get("Producer"),
        "has_text": bool(sample.strip()),
    }
    return {"document": {k: v for k, v in document.items() if v is not None}}


def pdf_text(path: Path, sink: TextSink, limits: MediaLimits, deadline: Deadline,
             progress: ProgressCallback) -> int:
    """The text of every page, a form feed between pages; the number of pages."""
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        text = Path(scratch) / "text.txt"
        report = reader.ask("text", path, text, limits.max_pdf_pages,
                            limits.max_output_bytes - sink.bytes_written, limits=limits,
                            deadline=deadline, progress=progress)
        copy_text(text, "utf-8", sink, deadline)
    progress(100.0)
    return int(report["pages"])


def pdf_page_images(path: Path, limits: MediaLimits, deadline: Deadline, *, pages: int,
                    box: tuple[int, int] | None = None) -> Iterator[Image.Image]:
    """The first ``pages`` pages rendered, at ``PDF_RENDER_DPI`` or to fit ``box`` (twice
    the box, for a sharp thumbnail), each checked against the pixel limit first."""
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        report = reader.ask("render", path, scratch, limits.max_pdf_pages, pages,
                            limits.max_pixels, PDF_RENDER_DPI, *(box or ()), limits=limits,
                            deadline=deadline)
        for file in report["files"]:
            with Image.open(file) as page:
                image = page.convert("RGB")
            Path(file).unlink()
            yield image


# DOCX -------------------------------------------------------------------------------------

def _check_unpacked(path: Path, limits: MediaLimits) -> None:
    """A zip bomb is refused from its central directory, before anything is inflated."""
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(entry.file_size for entry in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnreadableMedia(f"not a readable DOCX: {exc}") from exc
    if declared > limits.max_unpacked_bytes:
        raise MediaLimitExceeded("unpacked_bytes", declared, limits.max_unpacked_bytes,
                                 f"the document unpacks to {declared} bytes, more than the "
                                 f"limit of {limits.max_unpacked_bytes}")


def _open_docx(path: Path, limits: MediaLimits) -> Any:
    _check_unpacked(path, limits)
    try:
        return docx.Document(str(path))
    except Exception as exc:  # python-docx raises a dozen types for a bad package
        raise UnreadableMedia(f"not a readable DOCX: {exc}") from exc


def _docx_blocks(document: Any) -> Iterator[str]:
    for paragraph in document.paragraphs:
        yield paragraph.text
    for table in document.tables:
        for row in table.rows:
            yield "\t".join(cell.text for cell in row.cells)


def _docx_pages(path: Path) -> int | None:
    """Pages as Word last counted them (docProps/app.xml); python-docx does not lay out."""
    with zipfile.ZipFile(path) as archive:
        if "docProps/app.xml" not in archive.namelist():
            return None
        with archive.open("docProps/app.xml") as app:
            raw = app.read(64 * 1024)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:
        return None
    for element in root:
        text = element.text or ""
        if element.tag.endswith("}Pages") and text.isdigit():
            return int(text)
    return None


def docx_text(path: Path, sink: TextSink, limits: MediaLimits, deadline: Deadline,
              progress: ProgressCallback) -> None:
    document = _open_docx(path, limits)
    for block in _docx_blocks(document):
        deadline.check()
        sink.write(block + "\n")
    progress(100.0)


def docx_metadata(path: Path, limits: MediaLimits) -> dict[str, Any]:
    document = _open_docx(path, limits)
    props = document.core_properties
    sample: list[str] = []
    words = 0
    for block in _docx_blocks(document):
        words += len(block.split())
        if sum(map(len, sample)) < SAMPLE_CHARS:
            sample.append(block)
    created = props.created.isoformat() if props.created else None
    info = {"pages": _docx_pages(path), "words": words, "author": props.author or None,
            "title": props.title or None, "language": detect_language("\n".join(sample)),
            "created_at": created}
    return {"document": {k: v for k, v in info.items() if v is not None}}


# RTF --------------------------------------------------------------------------------------

# striprtf's hyperlink pattern backtracks cubically on crafted input (30 KB took 33 s here),
# so it runs in a child process that the deadline kills, with the memory limit.
_RTF_CHILD = (
    "import sys;from striprtf.striprtf import rtf_to_text;"
    "data=open(sys.argv[1],'rb').read().decode('latin-1');"
    "open(sys.argv[2],'w',encoding='utf-8',newline='').write(rtf_to_text(data,errors='ignore'))"
)


def _rtf_to_file(source: Path, target: Path, limits: MediaLimits, deadline: Deadline) -> None:
    size = source.stat().st_size
    if size > limits.max_unpacked_bytes:
        raise MediaLimitExceeded("unpacked_bytes", size, limits.max_unpacked_bytes,
                                 f"the RTF document is {size} bytes, more than the limit of "
                                 f"{limits.max_unpacked_bytes}")
    run_limited(python_child(_RTF_CHILD, str(source), str(target)),
                memory_bytes=limits.max_memory_bytes, deadline=deadline, what="RTF reader")


def rtf_text(path: Path, sink: TextSink, limits: MediaLimits, deadline: Deadline,
             progress: ProgressCallback, scratch: Path) -> None:
    _rtf_to_file(path, scratch, limits, deadline)
    copy_text(scratch, "utf-8", sink, deadline)
    progress(100.0)


# Plain text -------------------------------------------------------------------------------

def text_encoding(path: Path) -> str:
    """The encoding of a text file, judged from its first 64 KiB."""
    with path.open("rb") as source:
        sample = source.read(ENCODING_SAMPLE)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the end of the sample
            return "utf-8"
    # Western encodings first: the product's texts are French and English, and on short
    # French samples the open detection picks Baltic or Central European code pages.
    best = (charset_normalizer.from_bytes(sample, cp_isolation=WESTERN).best()
            or charset_normalizer.from_bytes(sample).best())
    return best.encoding if best else "utf-8"


def is_text(path: Path) -> bool:
    """Text in some encoding (the upload's sniffing knows UTF-8 only and calls the rest
    application/octet-stream)."""
    with path.open("rb") as source:
        sample = source.read(ENCODING_SAMPLE)
    return charset_normalizer.from_bytes(sample).best() is not None


def copy_text(path: Path, encoding: str, sink: TextSink, deadline: Deadline) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as source:
        while chunk := source.read(READ_CHUNK):
            deadline.check()
            sink.write(decoder.decode(chunk))
        sink.write(decoder.decode(b"", final=True))


def plain_text(path: Path, sink: TextSink, limits: MediaLimits, deadline: Deadline,
               progress: ProgressCallback) -> str:
    encoding = text_encoding(path)
    copy_text(path, encoding, sink, deadline)
    progress(100.0)
    return encoding


def text_metadata(path: Path, limits: MediaLimits, *, rtf: bool = False) -> dict[str, Any]:
    """Encoding, characters, words and language of a TXT or RTF file (counted, not kept)."""
    deadline = Deadline.of(limits)
    sink = TextSink(None, limits.model_copy(update={"max_output_bytes": sys.maxsize}),
                    count_words=True)
    if rtf:
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch_dir:
            scratch = Path(scratch_dir) / "text.txt"
            _rtf_to_file(path, scratch, limits, deadline)
            copy_text(scratch, "utf-8", sink, deadline)
        encoding = "rtf"
    else:
        encoding = text_encoding(path)
        copy_text(path, encoding, sink, deadline)
    summary = sink.summary()
    return {"document": {"encoding": encoding, "characters": summary["extracted_text_length"],
                         "words": summary["words"], "language": summary["language"]}}
