"""Run a transformation job from async code without blocking the event loop.

Each job runs in a worker thread (``asyncio.to_thread``). FFmpeg, the RTF reader and the
PDF reader (PDFium is not thread-safe) are child processes (killed at the deadline, address
space capped); Pillow and onnxruntime work in the thread itself because they release the
GIL while they decode, so the loop keeps serving, and a thread costs nothing to start nor
to share the OCR model, whereas a process would reload it (about 0.5 s). Their memory is bounded by
the pixel, frame and page limits checked before decoding, and their time by the deadline
checked between pages and frames. If a thread still overruns the job's time, ``run_job``
stops waiting, raises ``JobTimedOut``, and the thread's late result is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shared.errors import JobTimedOut
from shared.media.limits import MediaLimits
from shared.media.registry import ValidTransformation
from shared.media.transforms import Result

# Slack past the job's own deadline before run_job gives up on the thread: the job's
# checks and the FFmpeg kill normally end it first, with the clearer error.
GRACE_SECONDS = 5.0


@contextlib.contextmanager
def workspace(root: str | Path) -> Iterator[Path]:
    """A private directory for one job under ``TEMP_STORAGE_PATH`` (the source streamed in,
    the output, the engines' scratch files), removed with everything in it."""
    base = Path(root)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="job-", dir=base) as directory:
        yield Path(directory)


async def run_job(transformation: ValidTransformation, source_path: Path, output_path: Path,
                  limits: MediaLimits,
                  on_progress: Callable[[int], Any] | None = None) -> Result:
    """Run the job; ``on_progress(percent)`` is called on the event loop's thread, once per
    whole percent gained. Raises what the job raises (``TransformationFailed`` and its
    subclasses for a refused or unreadable source, a limit or the timeout)."""
    loop = asyncio.get_running_loop()
    last = -1

    def progress(percent: float) -> None:  # from the job's thread
        nonlocal last
        whole = int(max(0.0, min(100.0, percent)))
        if on_progress is not None and whole > last:
            last = whole
            loop.call_soon_threadsafe(on_progress, whole)

    job = transformation.type.job
    started = time.monotonic()
    task = asyncio.to_thread(job, source_path, output_path, transformation.params, limits,
                             progress)
    try:
        return await asyncio.wait_for(task, timeout=limits.job_seconds + GRACE_SECONDS)
    except TimeoutError as exc:
        raise JobTimedOut(limits.job_seconds, time.monotonic() - started) from exc
