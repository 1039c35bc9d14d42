"""The media reader: PDFium and FFmpeg's demuxers, run in warm child processes
(``reader_child.py``) so that a file that crashes or hangs them fails its own job, not the
host. Limits found by the reader (pages, pixels, output) are raised here, with the same
errors as the in-process engines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.errors import UnreadableMedia
from shared.media.childpool import ChildPool
from shared.media.limits import Deadline, MediaLimits

readers = ChildPool(f"import runpy\nrunpy.run_path("
                    f"{str(Path(__file__).with_name('reader_child.py'))!r}, "
                    f"run_name='__main__')", "media reader")


def ask(command: str, *args: object, limits: MediaLimits, deadline: Deadline,
        progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """The reader's report on ``command``; ``progress`` gets its "page I N" lines."""

    def on_line(line: str) -> None:
        if progress is not None and line.startswith("page "):
            done, total = line.split()[1:3]
            progress(100 * int(done) / max(1, int(total)))

    report = readers.request(command, [str(arg) for arg in args],
                             memory_bytes=limits.max_memory_bytes, deadline=deadline,
                             on_line=on_line)
    if "unreadable" in report:
        raise UnreadableMedia(str(report["unreadable"]))
    if "pages" in report:
        limits.check_pages(int(report["pages"]))
    if "pixels" in report:
        limits.check_pixels(*map(int, report["pixels"]))
    if "output_bytes" in report:
        limits.check_output(int(report["output_bytes"]))
    return report
