"""The media reader's child process: PDFium and FFmpeg's demuxers run here, never in the
host.

Both parse files from anyone, in C: a crash or a hang here ends one job, not the host and
every request it serves. PDFium is also not thread-safe (two calls at once, even on
different documents, crash the process). ``shared.media.reader`` keeps a few of these warm
(``shared.media.childpool``: address space capped, killed at the job's deadline); each
serves one request at a time and answers with a line ``report {...}``. This file imports
nothing of the project.

Commands:

    metadata SOURCE MAX_PAGES SAMPLE_CHARS        a PDF's information and a text sample
    text SOURCE TARGET MAX_PAGES MAX_BYTES        a PDF's text ("page I N" lines as it goes)
    render SOURCE DIRECTORY MAX_PAGES PAGES MAX_PIXELS DPI [BOX_WIDTH BOX_HEIGHT]
    probe SOURCE                                  an audio or video file's headers (PyAV)

A report names what was found, and the host decides: ``pages`` beyond MAX_PAGES,
``pixels`` beyond MAX_PIXELS or ``output_bytes`` beyond MAX_BYTES stop the work at once,
and ``unreadable`` carries the library's own message.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

SAMPLE_PAGES = 3
PROGRESS_EVERY = 0.25  # seconds
REPORT = "report "  # shared.media.childpool.REPORT (this file imports nothing of the project)
PAGE_SEPARATOR = "\n\f\n"  # a form feed between pages, as pdftotext does


class Stop(Exception):
    """The report is complete before the work is: a limit was reached."""

    def __init__(self, **report: Any) -> None:
        super().__init__(report)
        self.report = report


def _open(source: str, max_pages: int) -> tuple[pdfium.PdfDocument, int]:
    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise Stop(unreadable=f"not a readable PDF: {exc}") from exc
    pages = len(pdf)
    if pages > max_pages:
        pdf.close()
        raise Stop(pages=pages)
    return pdf, pages


def _texts(pdf: pdfium.PdfDocument, count: int) -> Iterator[str]:
    for index in range(count):
        page = pdf[index]
        try:
            textpage = page.get_textpage()
            try:
                yield str(textpage.get_text_range()).replace("\r\n", "\n")
            finally:
                textpage.close()
        finally:
            page.close()


def metadata(source: str, max_pages: str, sample_chars: str) -> dict[str, Any]:
    pdf, pages = _open(source, int(max_pages))
    try:
        info = pdf.get_metadata_dict(skip_empty=True)
        sample = "".join(_texts(pdf, min(SAMPLE_PAGES, pages)))[: int(sample_chars)]
    finally:
        pdf.close()
    return {"pages": pages, "info": info, "sample": sample}


def text(source: str, target: str, max_pages: str, max_bytes: str) -> dict[str, Any]:
    pdf, pages = _open(source, int(max_pages))
    written, limit = 0, int(max_bytes)
    shown = time.monotonic()
    try:
        with open(target, "w", encoding="utf-8", newline="") as out:
            for index, page_text in enumerate(_texts(pdf, pages)):
                part = (PAGE_SEPARATOR if index else "") + page_text
                written += len(part.encode("utf-8"))
                if written > limit:
                    raise Stop(pages=pages, output_bytes=written)
                out.write(part)
                if time.monotonic() - shown >= PROGRESS_EVERY:  # a line a page costs a third
                    shown = time.monotonic()
                    print(f"page {index + 1} {pages}", flush=True)
    finally:
        pdf.close()
    return {"pages": pages}


def render(source: str, directory: str, max_pages: str, wanted: str, max_pixels: str,
           dpi: str, *box: str) -> dict[str, Any]:
    """The first pages as PNG files, at ``dpi`` or, given a box, to fit twice the box (for a
    sharp thumbnail); each page's size is checked before it is rendered."""
    pdf, pages = _open(source, int(max_pages))
    files: list[str] = []
    try:
        for index in range(min(int(wanted), pages)):
            page = pdf[index]
            try:
                width, height = page.get_size()  # points (1/72 inch)
                scale = (min(2 * int(box[0]) / max(width, 1), 2 * int(box[1]) / max(height, 1))
                         if box else int(dpi) / 72)
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                if size[0] * size[1] > int(max_pixels):
                    raise Stop(pages=pages, pixels=size)
                bitmap = page.render(scale=scale)
                try:
                    path = Path(directory) / f"page-{index + 1:04d}.png"
                    bitmap.to_pil().convert("RGB").save(path, format="PNG", compress_level=1)
                finally:
                    bitmap.close()
                files.append(str(path))
            finally:
                page.close()
    finally:
        pdf.close()
    return {"pages": pages, "files": files}


# Headers only, local files only (protocol_whitelist), and only these demuxers: never HLS
# or concat playlists, which open other files or URLs.
DEMUXERS = ("mov", "matroska", "avi", "mp3", "wav", "ogg", "aac", "flac", "gif")
AV_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": ",".join(DEMUXERS)}


def probe(source: str) -> dict[str, Any]:
    import av  # only the readers that probe pay for it

    def rate(stream: Any) -> float | None:
        value = stream.average_rate or stream.guessed_rate
        return round(float(value), 3) if value else None

    try:
        with av.open(source, options=AV_OPTIONS) as container:
            video: dict[str, Any] | None = None
            audio: dict[str, Any] | None = None
            for stream in container.streams:
                if isinstance(stream, av.VideoStream) and video is None:
                    picture = stream.codec_context
                    video = {"codec": picture.name, "width": picture.width,
                             "height": picture.height, "frame_rate": rate(stream),
                             "bit_rate": picture.bit_rate or None,
                             "pixel_format": picture.format.name if picture.format else None}
                elif isinstance(stream, av.AudioStream) and audio is None:
                    sound = stream.codec_context
                    audio = {"codec": sound.name, "channels": sound.layout.nb_channels or None,
                             "sample_rate": sound.sample_rate or None,
                             "bit_rate": sound.bit_rate or None}
            duration = container.duration / av.time_base if container.duration else None
            tags = {str(k)[:64]: str(v)[:256] for k, v in list(container.metadata.items())[:32]}
            return {"info": {"container": container.format.name, "duration": duration,
                             "bit_rate": container.bit_rate or None, "video": video,
                             "audio": audio, "tags": tags}}
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise Stop(unreadable=f"not a readable audio or video file: {exc}") from exc


COMMANDS: dict[str, Callable[..., dict[str, Any]]] = {
    "metadata": metadata, "text": text, "render": render, "probe": probe}


def serve() -> None:
    """Requests from stdin, one JSON line each, until it closes (``shared.media.childpool``)."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            report = COMMANDS[request["command"]](*request["args"])
        except Stop as stop:
            report = stop.report
        except Exception as exc:  # a damaged document's own error: this job fails, not the next
            report = {"unreadable": f"the file could not be read: {type(exc).__name__}: {exc}"}
        print(REPORT + json.dumps(report), flush=True)


if __name__ == "__main__":
    serve()
