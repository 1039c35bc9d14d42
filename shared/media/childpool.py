"""Warm child processes for a library that must not run in the host (PDFium: not
thread-safe, and fed hostile files).

Each child serves one request at a time, over its stdin and stdout: a request is one JSON
line ``{"command", "args"}``; the answer is any number of lines for ``on_line`` (progress),
then one line ``report {...}``. A job takes an idle child or starts one, so jobs run side
by side in children of their own; a child goes back to the idle ones when it answered (the
``keep_idle`` most recent are kept) and is retired after ``max_uses`` requests.

A child that crashes fails its job only; one that runs past the job's deadline is killed
(``JobTimedOut``); its address space is capped (``MediaLimitExceeded`` when it runs out).
Starting one costs about a tenth of a second (Python and the library), which a warm child
does not pay again.
"""

from __future__ import annotations

import collections
import json
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import Any

from shared.errors import JobTimedOut
from shared.media.limits import Deadline
from shared.media.proc import STDERR_LINES, failure, limited, python_child

REPORT = "report "


class _Child:
    def __init__(self, argv: list[str]) -> None:
        # Not a session of its own: the child is stopped with the host's process group, and
        # it exits by itself when the host is gone (its stdin closes).
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, errors="replace",
                                        bufsize=1)
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self.uses = 0
        stderr = self.process.stderr
        assert stderr is not None
        self._drain = threading.Thread(target=lambda: self.stderr.extend(stderr), daemon=True)
        self._drain.start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def ended(self) -> int:
        """Its exit code, once what it printed last has been read."""
        if self.alive():
            self.process.kill()
        code = self.process.wait()
        self._drain.join(timeout=2)
        return code

    def ask(self, command: str, args: Sequence[str],
            on_line: Callable[[str], None] | None) -> dict[str, Any] | None:
        """The report, or None when the child ended before answering."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        self.uses += 1
        try:
            stdin.write(json.dumps({"command": command, "args": list(args)}) + "\n")
            stdin.flush()
        except BrokenPipeError:
            return None
        for line in stdout:
            if line.startswith(REPORT):
                report: dict[str, Any] = json.loads(line[len(REPORT):])
                return report
            if on_line is not None:
                on_line(line.rstrip("\n"))
        return None

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # the child's loop ends
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ChildPool:
    def __init__(self, code: str, what: str, *, keep_idle: int = 2, max_uses: int = 100) -> None:
        self.code = code
        self.what = what
        self.keep_idle = keep_idle
        self.max_uses = max_uses
        self._idle: list[tuple[int, _Child]] = []
        self._lock = threading.Lock()

    def request(self, command: str, args: Sequence[str], *, memory_bytes: int,
                deadline: Deadline,
                on_line: Callable[[str], None] | None = None) -> dict[str, Any]:
        deadline.check()
        child = self._take(memory_bytes)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            child.process.kill()

        timer = threading.Timer(max(0.0, deadline.remaining()), kill)
        timer.start()
        try:
            report = child.ask(command, args, on_line)
        except BaseException:
            child.ended()  # its request is abandoned (a bad line, a callback's error)
            raise
        finally:
            timer.cancel()
        if report is not None and not killed.is_set():
            self._give_back(memory_bytes, child)
            return report
        code = child.ended()
        if killed.is_set():
            raise JobTimedOut(deadline.seconds, deadline.elapsed())
        raise failure(code, child.stderr, memory_bytes, self.what)

    def close(self) -> None:
        """Stop the idle children (those at work are stopped when they answer)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, child in idle:
            child.close()

    def _take(self, memory_bytes: int) -> _Child:
        with self._lock:
            matching = [entry for entry in self._idle if entry[0] == memory_bytes]
            for entry in matching:
                self._idle.remove(entry)
                if entry[1].alive():
                    return entry[1]
                entry[1].process.wait()  # died while idle (killed from outside): reaped
        return _Child(limited(python_child(self.code), memory_bytes))

    def _give_back(self, memory_bytes: int, child: _Child) -> None:
        """Kept idle unless it is worn out; the longest idle one makes room for it."""
        retired = [child]
        if child.uses < self.max_uses:
            with self._lock:
                self._idle.append((memory_bytes, child))
                retired = [entry[1] for entry in self._idle[:-self.keep_idle or None]]
                del self._idle[:-self.keep_idle or None]
        for worn in retired:
            worn.close()
