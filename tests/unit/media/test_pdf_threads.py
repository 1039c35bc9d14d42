"""PDFium is not thread-safe, and the metadata trigger and the transform jobs use it from
worker threads at the same time. Before every call went through one lock, this load crashed
the process (SIGSEGV) in two runs out of three; it runs in a child process so that a crash
fails the test instead of ending the test session."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests import media_samples as samples

ROOT = Path(__file__).resolve().parents[3]

LOAD = textwrap.dedent("""
    import sys, threading, time
    from pathlib import Path
    from shared.media.documents import TextSink, pdf_page_images, pdf_text
    from shared.media.limits import Deadline, MediaLimits
    from shared.media.metadata import extract_metadata

    text, scan, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    limits = MediaLimits()
    until = time.monotonic() + seconds
    done = []

    def describe():
        while time.monotonic() < until:
            extract_metadata(text, "application/pdf", limits)
            extract_metadata(scan, "application/pdf", limits)
        done.append(1)

    def render():
        while time.monotonic() < until:
            for path, box in ((scan, None), (text, (200, 200))):
                for image in pdf_page_images(path, limits, Deadline.of(limits), pages=3, box=box):
                    assert image.width > 0
        done.append(1)

    def extract():
        while time.monotonic() < until:
            pdf_text(text, TextSink(None, limits), limits, Deadline.of(limits), lambda _: None)
        done.append(1)

    threads = [threading.Thread(target=work) for work in (describe, render, extract, describe)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{len(done)} threads done")
""")


def test_pdf_work_in_several_threads_at_once_does_not_crash(tmp_path: Path) -> None:
    text = samples.text_pdf(tmp_path / "text.pdf",
                            [[f"Ligne {line} de la page {page}." for line in range(30)]
                             for page in range(20)])
    scan = samples.scanned_pdf(tmp_path / "scan.pdf", samples.printed_page(lines=3),
                               samples.printed_page(lines=2))
    child = subprocess.run([sys.executable, "-c", LOAD, str(text), str(scan), "6"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr[-2000:]}"
    assert child.stdout.strip() == "4 threads done"
