"""Text extraction and document metadata on real PDFs, DOCX, RTF and TXT files, with the
page, unpacked-size, output and time limits."""

from __future__ import annotations

import random
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from PIL import Image

from shared.errors import JobTimedOut, MediaLimitExceeded, UnreadableMedia
from shared.media.limits import MediaLimits
from shared.media.metadata import extract_metadata
from tests import media_samples as samples
from tests.unit.media.conftest import DOCX, FRENCH


def test_pdf_text_page_by_page(transform, text_pdf: Path) -> None:
    result, output, progress = transform("text_extraction", {}, text_pdf, "application/pdf")
    text = output.read_text(encoding="utf-8")
    assert FRENCH in text and "Fin du document" in text
    assert text.index(FRENCH) < text.index("\f") < text.index("Page deux")
    assert result["pages"] == 2 and result["language"] == "fr"
    assert result["extracted_text_length"] == len(text)
    assert result["mime_type"] == "text/plain"
    # Progress comes from the reader at most every PROGRESS_EVERY seconds, then 100 at the end.
    assert progress[-1] == 100 and progress == sorted(progress)


def test_pdf_metadata(text_pdf: Path, limits: MediaLimits) -> None:
    metadata = extract_metadata(text_pdf, "application/pdf", limits)
    assert metadata["document"] == {"pages": 2, "title": "Mon Document", "author": "John Doe",
                                    "language": "fr", "created_at": "2024-01-15T10:30:00",
                                    "has_text": True}
    assert metadata["extraction"] == {"status": "done"}


def test_pdf_page_limit(transform, text_pdf: Path) -> None:
    limits = MediaLimits(max_pdf_pages=1)
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("text_extraction", {}, text_pdf, "application/pdf", limits=limits)
    assert caught.value.details == {"limit": "pdf_pages", "value": 2, "maximum": 1}
    failed = extract_metadata(text_pdf, "application/pdf", limits)["extraction"]
    assert failed["status"] == "failed" and "2 pages" in failed["error_message"]


def test_pdf_thumbnail_is_its_first_page(transform, text_pdf: Path) -> None:
    result, output, _ = transform("thumbnail_generation", {"format": "png"}, text_pdf,
                                  "application/pdf")
    # A US Letter page (612 x 792 points) fitted into 256 x 256.
    assert result["dimensions"] == {"width": 198, "height": 256}
    with Image.open(output) as page:
        # White paper with dark text near the top-left margin.
        assert page.convert("L").getpixel((5, 5)) > 240
        assert page.convert("L").crop((20, 20, 120, 40)).getextrema()[0] < 128


def test_damaged_pdf(transform, tmp_path: Path) -> None:
    # A PDF's header and first object, then noise: what a truncated or damaged file keeps.
    # (A short file without its trailer is not sniffed as a PDF at all.)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
                       + random.Random(7).randbytes(9000))
    with pytest.raises(UnreadableMedia):
        transform("text_extraction", {}, broken, "application/pdf")
    assert extract_metadata(broken, "application/pdf", MediaLimits())["extraction"][
        "status"] == "failed"


def test_docx_text_and_metadata(transform, tmp_path: Path) -> None:
    source = samples.docx_file(tmp_path / "rapport.docx", [FRENCH, "Deuxième paragraphe."])
    result, output, _ = transform("text_extraction", {}, source, DOCX)
    text = output.read_text(encoding="utf-8")
    assert text.splitlines() == [FRENCH, "Deuxième paragraphe.", "cellule\ttableau"]
    assert result["language"] == "fr"
    document = extract_metadata(source, DOCX, MediaLimits())["document"]
    assert (document["title"], document["author"], document["language"]) == (
        "Rapport", "Marie Curie", "fr")
    assert document["words"] == len(text.split())


def test_docx_zip_bomb_is_refused_from_its_directory(transform, tmp_path: Path) -> None:
    source = samples.docx_file(tmp_path / "bomb.docx", ["x"])
    with zipfile.ZipFile(source, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/zeros.bin", b"\0" * (8 * 1024 * 1024))
    assert source.stat().st_size < 200_000
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("text_extraction", {}, source, DOCX,
                  limits=MediaLimits(max_unpacked_bytes=4 * 1024 * 1024))
    assert caught.value.details["limit"] == "unpacked_bytes"


def test_rtf_text(transform, tmp_path: Path) -> None:
    source = samples.rtf_file(tmp_path / "conte.rtf", FRENCH)
    result, output, _ = transform("text_extraction", {}, source, "application/rtf")
    assert output.read_text(encoding="utf-8").splitlines() == ["Titre", FRENCH]
    assert result["language"] == "fr"
    document = extract_metadata(source, "application/rtf", MediaLimits())["document"]
    assert document["encoding"] == "rtf" and document["language"] == "fr"


def test_rtf_that_backtracks_is_killed_at_the_deadline(transform, tmp_path: Path) -> None:
    """striprtf's hyperlink pattern is cubic on this input (minutes): the child is killed."""
    crafted = tmp_path / "crafted.rtf"
    crafted.write_text("{\\rtf1 " + "{\\field{\\*\\fldinst{" * 2000 + ' HYPERLINK "' * 2000
                       + "}}", encoding="ascii")
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    started = time.monotonic()
    with pytest.raises(JobTimedOut):
        transform("text_extraction", {}, crafted, "application/rtf",
                  limits=MediaLimits(job_seconds=1))
    assert time.monotonic() - started < 10
    left = {child.pid for child in psutil.Process().children(recursive=True)} - before
    assert left == set()  # the killed child is gone and reaped


@pytest.mark.parametrize(("encoding", "text"), [
    ("utf-8", "Déjà vu, naïve café.\n" * 20),
    ("cp1252", "Le château était déjà là, près de la forêt profonde.\n" * 20),
    ("utf-16", "Bonjour à tous, voici le texte du conte.\n" * 20),
])
def test_txt_is_rewritten_as_utf8(transform, tmp_path: Path, encoding: str,
                                  text: str) -> None:
    source = tmp_path / "story.txt"
    source.write_bytes(text.encode(encoding))
    result, output, _ = transform("text_extraction", {}, source, "text/plain")
    assert output.read_text(encoding="utf-8") == text
    assert result["extracted_text_length"] == len(text)


def test_txt_metadata(tmp_path: Path) -> None:
    source = tmp_path / "story.txt"
    source.write_text(FRENCH, encoding="utf-8")
    assert extract_metadata(source, "text/plain", MediaLimits())["document"] == {
        "encoding": "utf-8", "characters": len(FRENCH), "words": len(FRENCH.split()),
        "language": "fr"}


def test_text_output_is_capped_while_written(transform, tmp_path: Path) -> None:
    source = tmp_path / "big.txt"
    source.write_text("mot " * 100_000, encoding="utf-8")
    output_cap = 10_000
    with pytest.raises(MediaLimitExceeded) as caught:
        transform("text_extraction", {}, source, "text/plain",
                  limits=MediaLimits(max_output_bytes=output_cap))
    assert caught.value.details["limit"] == "output_bytes"
    written = next(tmp_path.glob("out-text_extraction*"))
    assert written.stat().st_size <= output_cap


def test_a_long_pdf_reports_progress_while_it_is_read(transform, tmp_path: Path) -> None:
    lines = [f"Ligne {n} d'une longue page, pour que la lecture dure un peu." for n in range(40)]
    pdf = samples.text_pdf(tmp_path / "long.pdf", [lines] * 1500)
    result, _output, progress = transform("text_extraction", {}, pdf, "application/pdf")
    assert result["pages"] == 1500
    assert any(0 < percent < 100 for percent in progress), progress
    assert progress[-1] == 100 and progress == sorted(progress)
