"""Run a tool in a child process under the job's limits: address space (RLIMIT_AS), wall
clock (killed at the deadline), no standard input, bounded stderr kept for the error.

The rlimit is set by a tiny Python trampoline that then execs the tool: ``preexec_fn`` is
unsafe in a process with threads (the worker has several), and ``prlimit`` after the
start would race the child's first allocations.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from shared.errors import JobTimedOut, MediaLimitExceeded, TransformationFailed
from shared.media.limits import Deadline

_TRAMPOLINE = (
    "import os,resource,sys;n=int(sys.argv[1]);"
    "resource.setrlimit(resource.RLIMIT_AS,(n,n));os.execv(sys.argv[2],sys.argv[2:])"
)
STDERR_LINES = 20
_OUT_OF_MEMORY = ("Cannot allocate memory", "Memory allocation error", "MemoryError",
                  "Failed to allocate", "std::bad_alloc")


def python_child(code: str, *args: str) -> list[str]:
    """argv that runs ``code`` in this interpreter, isolated (``-I``: no environment, no
    working directory on the path) yet importing from this process's own path: in Azure the
    app's packages are on the worker's ``sys.path``, not on the interpreter's default one."""
    path = [entry for entry in sys.path if entry]
    return [sys.executable, "-I", "-c", f"import sys\nsys.path[:0] = {path!r}\n{code}", *args]


def limited(argv: Sequence[str], memory_bytes: int) -> list[str]:
    """``argv`` run with its address space capped at ``memory_bytes``."""
    return [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(memory_bytes), *argv]


def run_limited(argv: Sequence[str], *, memory_bytes: int, deadline: Deadline,
                on_line: Callable[[str], None] | None = None, what: str = "the tool") -> None:
    """Run ``argv``; each stdout line goes to ``on_line``. Raises ``JobTimedOut`` (the child
    is killed), ``MediaLimitExceeded`` for memory, ``TransformationFailed`` otherwise."""
    deadline.check()
    process = subprocess.Popen(limited(argv, memory_bytes), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace", start_new_session=True)
    assert process.stdout is not None and process.stderr is not None  # both are PIPEs
    stdout, stderr_pipe = process.stdout, process.stderr
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
    reader = threading.Thread(target=lambda: stderr.extend(stderr_pipe), daemon=True)
    timer = threading.Timer(max(0.0, deadline.remaining()), kill)
    reader.start()
    timer.start()
    try:
        for line in stdout:
            if on_line is not None:
                on_line(line.rstrip("\n"))
        code = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    if killed.is_set():
        raise JobTimedOut(deadline.seconds, deadline.elapsed())
    if code != 0:
        raise failure(code, stderr, memory_bytes, what)


def failure(code: int, stderr: Iterable[str], memory_bytes: int,
            what: str) -> TransformationFailed:
    """The error for a child that exited with ``code``, from the last lines it printed."""
    tail = "\n".join(line.rstrip() for line in stderr)[-2000:]
    if any(marker in tail for marker in _OUT_OF_MEMORY):
        return MediaLimitExceeded("memory_bytes", memory_bytes, memory_bytes,
                                  f"{what} ran out of its memory limit of {memory_bytes} bytes")
    return TransformationFailed(f"{what} failed (exit {code}): {tail or 'no message'}",
                                details={"exit_code": code})
