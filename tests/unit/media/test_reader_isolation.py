"""PDFium and FFmpeg's demuxers read hostile files (and PDFium is not thread-safe), so
they run in the media reader's child processes: PDF work from several threads at once, a
reader that crashes and one that hangs end one job, never the host.

The thread test runs in a process of its own so that a crash fails the test instead of
ending the session: when the host called PDFium from its threads, it crashed (SIGSEGV) in
three runs out of three."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shared.errors import JobTimedOut, TransformationFailed
from shared.media import documents, probe, reader
from shared.media.childpool import ChildPool
from shared.media.limits import Deadline, MediaLimits
from shared.media.metadata import extract_metadata
from shared.media.proc import python_child
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


@pytest.mark.parametrize("ending", [
    "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",  # PDFium crashing on a file
    "import time; time.sleep(60)",  # or looping on one
])
def test_a_reader_that_crashes_or_hangs_fails_the_job_and_not_the_host(
        ending: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "readers", ChildPool(ending, "media reader"))
    pdf = samples.text_pdf(tmp_path / "doc.pdf", [["Bonjour."]])
    limits = MediaLimits(job_seconds=2)
    started = time.monotonic()
    with pytest.raises(TransformationFailed) as failed:
        documents.pdf_text(pdf, documents.TextSink(None, limits), limits, Deadline.of(limits),
                           lambda _: None)
    assert time.monotonic() - started < 10
    if "sleep" in ending:
        assert isinstance(failed.value, JobTimedOut)
    else:
        assert failed.value.details["exit_code"] == -11
    assert extract_metadata(pdf, "application/pdf", limits)["extraction"]["status"] == "failed"
    with pytest.raises(TransformationFailed):
        probe.probe(pdf, limits)  # a video's headers are read by the same readers
    assert list(tmp_path.iterdir()) == [pdf]  # no scratch directory left behind


def test_the_child_imports_from_the_hosts_path(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """In Azure the app's packages are on the worker's sys.path only (.python_packages); an
    isolated child that did not inherit it could not import pypdfium2 there."""
    (tmp_path / "only_on_the_hosts_path.py").write_text("ANSWER = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = python_child("import only_on_the_hosts_path as m; print(m.ANSWER, sys.argv[1:])",
                        "a", "b")
    child = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/")
    assert child.stdout.strip() == "42 ['a', 'b']", child.stderr
