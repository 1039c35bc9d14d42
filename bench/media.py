"""The media engines beside the tools underneath, on the same files (``python -m bench media``
runs only this part; it needs no stack).

- a 24-megapixel JPEG to a 256 px thumbnail: our job in-process beside ``vipsthumbnail`` and
  ImageMagick's ``convert -thumbnail`` (their times include their process start, which a
  long-lived worker does not pay), with peak memory: targets <= 1.0 x vipsthumbnail and
  <= 0.5 x convert;
- a 50-page PDF's text: our job beside pypdfium2 alone, in this process (<= 1.1 while PDFium
  ran in the host; it now runs in a warm child, whose round trip and text copy add about
  30 ms) and in a fresh process (what isolating it one process a job would cost);
- a 30-second 720p H.264 clip to WebM, and to MP4 at a lower bit rate: our job beside the
  same FFmpeg command run by hand: <= 1.03;
- OCR of one scanned page: our job beside RapidOCR called directly with its defaults.

The through-the-queue figures come with the worker.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import interleaved, row
from shared.media import params, probe, transforms, video
from shared.media.limits import MediaLimits
from tests import media_samples as samples

ROOT = Path(__file__).resolve().parent.parent
LIMITS = MediaLimits()
MiB = 1024 * 1024
VIPSTHUMBNAIL = shutil.which("vipsthumbnail")
CONVERT = "/usr/bin/convert" if os.access("/usr/bin/convert", os.X_OK) else None
# Half a second a run: many runs, or another process's burst decides the ratio (9 runs
# read anywhere from 0.99 to 1.32 on a busy machine).
PDF_RUNS = 25
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def _quiet(_: float) -> None:
    pass


def _by_hand(argv: list[str], _run_number: int) -> None:
    _run(argv)


def _run(argv: list[str]) -> None:
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, check=True)


def _peak_rss(argv: list[str], work: Path) -> int | None:
    """Peak resident memory of ``argv`` in bytes, from GNU time, which forks it from a small
    process (a child forked from this big one would count our pages as its own)."""
    if GNU_TIME is None:
        return None
    report = work / "time.txt"
    subprocess.run([GNU_TIME, "-f", "%M", "-o", str(report), *argv], cwd=ROOT, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(report.read_text().split()[-1]) * 1024


def _mib(size: int | None) -> str:
    return "peak RSS ?: no /usr/bin/time" if size is None else f"peak RSS {size / MiB:.0f} MiB"


_THUMBNAIL_CHILD = """
import sys
from pathlib import Path
from shared.media import params, transforms
from shared.media.limits import MediaLimits
def high_water():  # VmHWM: this process's own peak, in KiB
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
before = high_water()
transforms.thumbnail_generation(Path(sys.argv[1]), Path(sys.argv[2]),
    params.ThumbnailGeneration(width=256, height=256, quality=85), MediaLimits(), print)
print("growth", (high_water() - before) * 1024)
"""


def _job_growth(argv: list[str]) -> int:
    """How much our job's peak adds to the process's (imports excluded)."""
    out = subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def thumbnails(work: Path) -> list[str]:
    source = samples.big_photo(work / "24mp.jpg")
    ours = params.ThumbnailGeneration(width=256, height=256, quality=85)
    commands = {"ours": [sys.executable, "-c", _THUMBNAIL_CHILD, str(source),
                         str(work / "t-ours.jpg")]}
    if VIPSTHUMBNAIL:
        commands["vips"] = [VIPSTHUMBNAIL, str(source), "-s", "256",
                            "-o", f"{work / 't-vips.jpg'}[Q=85]"]
    if CONVERT:
        commands["convert"] = [CONVERT, str(source), "-thumbnail", "256x256", "-quality", "85",
                               str(work / "t-im.jpg")]
    def our_job(_: int) -> object:
        return transforms.thumbnail_generation(source, work / "t-ours.jpg", ours, LIMITS,
                                               _quiet)

    actions: dict[str, Callable[[int], object]] = {"ours": our_job}
    for name in commands.keys() - {"ours"}:
        actions[name] = functools.partial(_by_hand, commands[name])
    for action in actions.values():
        action(0)  # warm the page cache and the imports
    median = interleaved(7, actions, alternate=True)
    lines = ["24-megapixel JPEG (6000x4000) -> 256 px thumbnail (median of 7, interleaved):",
             row("ours (Pillow draft + thumbnail), in-process", f"{median['ours']:9.3f} s",
                 f"{_mib(_peak_rss(commands['ours'], work))} for a process running it, "
                 f"+{_job_growth(commands['ours']) / MiB:.0f} MiB past its imports")]
    for name, label, target in (("vips", "vipsthumbnail", 1.0), ("convert", "convert", 0.5)):
        if name not in median:
            lines.append(row(label, "not installed", "scripts/install-bench-tools.sh"))
            continue
        lines += [row(label, f"{median[name]:9.3f} s", _mib(_peak_rss(commands[name], work))),
                  row(f"ratio ours / {label}", f"{median['ours'] / median[name]:14.2f}",
                      f"target <= {target}")]
    return lines


# pypdfium2 alone, the same code run here and in a fresh process (``python -c``).
_PDFIUM_TEXT = """
import pypdfium2 as pdfium
def pdfium_text(source, output):
    pdf = pdfium.PdfDocument(str(source))
    with open(output, "w", encoding="utf-8") as out:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            out.write(textpage.get_text_range())
            textpage.close()
            page.close()
    pdf.close()
"""
_PDFIUM_FRESH = _PDFIUM_TEXT + "import sys\npdfium_text(sys.argv[1], sys.argv[2])\n"
_pdfium: dict[str, Any] = {}
exec(_PDFIUM_TEXT, _pdfium)
_pdfium_text: Callable[[Path, Path], None] = _pdfium["pdfium_text"]


def pdf_text(work: Path) -> list[str]:
    lines_per_page = [f"Ligne {n} : il était une fois, dans une forêt profonde, un château "
                      f"où vivait une princesse. Line {n} of the English part." for n in range(45)]
    source = samples.text_pdf(work / "50.pdf", [lines_per_page] * 50)
    fresh = [sys.executable, "-c", _PDFIUM_FRESH, str(source), str(work / "fresh.txt")]
    median = interleaved(PDF_RUNS, {
        "ours": lambda _: transforms.text_extraction(source, work / "ours.txt",
                                                     params.TextExtraction(), LIMITS, _quiet),
        "pdfium": lambda _: _pdfium_text(source, work / "pdfium.txt"),
        "fresh": functools.partial(_by_hand, fresh),
    }, alternate=True)
    return [f"50-page PDF -> UTF-8 text (median of {PDF_RUNS}, interleaved):",
            row("ours (text_extraction, PDFium in a warm child)", f"{median['ours']:9.3f} s"),
            row("pypdfium2 alone, in this process", f"{median['pdfium']:9.3f} s"),
            row("pypdfium2 alone, in a fresh process", f"{median['fresh']:9.3f} s"),
            row("ratio ours / pypdfium2 in this process",
                f"{median['ours'] / median['pdfium']:14.2f}", "was <= 1.1 in the host"),
            row("ratio ours / pypdfium2 in a fresh process",
                f"{median['ours'] / median['fresh']:14.2f}")]


def _our_video(job: transforms.Job, source: Path, output: Path, p: params.Params,
               _run_number: int) -> object:
    return job(source, output, p, LIMITS, _quiet)


def videos(work: Path) -> list[str]:
    source = samples.clip(work / "720p.mp4", seconds=30, size="1280x720", rate=30,
                          bitrate="4M")
    info = probe.probe(source, LIMITS)
    lines = ["30-second 720p H.264/AAC clip (median of 3, interleaved):"]
    for label, job, p, enc in (
        ("-> WebM (VP9/Opus, 2000k)", transforms.video_format_conversion,
         params.VideoFormatConversion(format="webm", bitrate="2000k"),
         video.Encoding("webm", bitrate=2_000_000)),
        ("-> MP4 at 1000k (H.264/AAC)", transforms.video_bitrate_adjustment,
         params.VideoBitrateAdjustment(bitrate="1000k"),
         video.Encoding("mp4", bitrate=1_000_000)),
    ):
        ours_out = work / f"ours{video.EXTENSION[enc.format]}"
        raw_out = work / f"raw{video.EXTENSION[enc.format]}"
        by_hand = video.build_command(source, raw_out, info, enc, LIMITS)
        median = interleaved(3, {
            "ours": functools.partial(_our_video, job, source, ours_out, p),
            "ffmpeg": functools.partial(_by_hand, by_hand),  # -progress pipe:1 to /dev/null
        }, alternate=True)
        lines += [row(f"ours {label}", f"{median['ours']:9.2f} s"),
                  row("the same ffmpeg command by hand", f"{median['ffmpeg']:9.2f} s"),
                  row("ratio ours / ffmpeg", f"{median['ours'] / median['ffmpeg']:14.3f}",
                      "target <= 1.03")]
    return lines


def ocr_page(work: Path) -> list[str]:
    from rapidocr_onnxruntime import RapidOCR

    source = work / "scan.jpg"
    samples.printed_page().save(source, quality=90)
    direct = RapidOCR()
    p = params.Ocr()
    def ours(_: int) -> object:
        return transforms.ocr_text(source, work / "ocr.txt", p, LIMITS, _quiet)

    def called_directly(_: int) -> object:
        return direct(str(source))

    actions: dict[str, Callable[[int], object]] = {"ours": ours, "direct": called_directly}
    for action in actions.values():
        action(0)  # load the models once, as a worker does
    median = interleaved(3, actions, alternate=True)
    words = len((work / "ocr.txt").read_text(encoding="utf-8").split())
    return ["OCR of one scanned A4 page at 150 dpi (median of 3, models loaded):",
            row("ours (ocr job: long side <= 2000 px)", f"{median['ours']:9.2f} s",
                f"{words} words read"),
            row("RapidOCR called directly (its defaults)", f"{median['direct']:9.2f} s"),
            row("ratio ours / direct", f"{median['ours'] / median['direct']:14.2f}")]


def run(work: Path) -> list[str]:
    return [line for part in (thumbnails, pdf_text, videos, ocr_page) for line in part(work)]
