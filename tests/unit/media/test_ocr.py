"""OCR reads printed words back from a rendered image and from a scanned PDF, offline, with
the models of the rapidocr-onnxruntime wheel (about a second a page: two OCR runs here)."""

from __future__ import annotations

from pathlib import Path

from shared.media.limits import MediaLimits
from tests import media_samples as samples


def test_ocr_reads_an_image(transform, tmp_path: Path) -> None:
    source = tmp_path / "scan.png"
    samples.text_page(["The quick brown fox", "Hello storage world"]).save(source)
    result, output, progress = transform("ocr", {"languages": ["en"]}, source, "image/png")
    assert output.read_text(encoding="utf-8").splitlines() == ["The quick brown fox",
                                                               "Hello storage world"]
    assert result["pages"] == 1 and result["mime_type"] == "text/plain"
    assert result["language"] == "en"
    assert progress[-1] == 100


def test_ocr_reads_the_pages_of_a_scan_up_to_the_limit(transform, tmp_path: Path) -> None:
    scan = samples.scanned_pdf(tmp_path / "scan.pdf", samples.text_page(["Bonjour le monde"]),
                               samples.text_page(["Second page"]))
    result, output, _ = transform("ocr", {}, scan, "application/pdf",
                                  limits=MediaLimits(max_ocr_pages=1))
    assert result["pages"] == 1
    assert output.read_text(encoding="utf-8").strip() == "Bonjour le monde"
