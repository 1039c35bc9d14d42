"""Child processes supervised with mirakuru, plus what mirakuru does not give.

mirakuru starts a child in its own session, waits until it is ready (TCP port, HTTP answer or
any check) or exits, and stops it: the stop signal to its process group, SIGKILL to the group
after a timeout. Added here:

- the kernel sends the child our stop signal if we die (``PR_SET_PDEATHSIG``), so no child
  outlives us, not even after a SIGKILL;
- output to a log file, whose last lines go into every error;
- errors that name the service, what it was waiting for, and the variable moving a busy port;
- no ``mirakuru_uuid`` mark in the child's environment: mirakuru's exit hook kills every
  process whose mark *contains* our pid as a substring, which on a machine shared by several
  test sessions can hit another session's children. The session kill and the death signal
  already reach all of ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self

from mirakuru import Executor, HTTPExecutor, TCPExecutor
from mirakuru.exceptions import ProcessFinishedWithError, TimeoutExpired

from devhost.errors import StackError
from devhost.ports import LOOPBACK, Port, check_ports

log = logging.getLogger("devhost.processes")

_PR_SET_PDEATHSIG = 1
# Loaded once here: the child between fork and exec should do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _new_session_dying_with(parent: int, sig: int) -> Callable[[], None]:
    def preexec() -> None:
        os.setsid()
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class Supervision(Executor):
    """Base of our executors, put before a mirakuru executor class (``SupervisedHTTP``...):
    see the module's docstring."""

    def __init__(self, command: Sequence[str | Path | int], *, name: str,
                 log_path: Path | None, ports: Sequence[Port] = (),
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 user: str | None = None, stop_signal: int = signal.SIGTERM,
                 timeout: float = 60.0, stop_timeout: float = 15.0, **kwargs: Any) -> None:
        self.name = name
        self.log_path = log_path
        self.ports = tuple(ports)
        self.stop_timeout = stop_timeout
        self._child_env = dict(os.environ if env is None else env)
        # The child runs as `user` (with that user's group and no other) when given.
        as_user: dict[str, Any] = (
            {"user": user, "group": user, "extra_groups": []} if user else {})
        super().__init__(
            [str(part) for part in command], cwd=str(cwd) if cwd else None, timeout=timeout,
            stop_signal=stop_signal, stdin=subprocess.DEVNULL, stdout=None, stderr=None,
            popen_kwargs=as_user, **kwargs,
        )

    # -- what mirakuru calls

    @property
    def envvars(self) -> dict[str, str]:
        return dict(self._child_env)

    @property
    def _popen_kwargs(self) -> dict[str, Any]:
        kwargs = super()._popen_kwargs
        kwargs["preexec_fn"] = _new_session_dying_with(os.getpid(), self._stop_signal)
        return kwargs

    def pre_start_check(self) -> bool:
        check_ports(self.ports)  # a clear error naming the variable, before anything starts
        return False

    def check_subprocess(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self.kill(wait=False)  # forgets the dead process
            raise StackError(f"{self.name} exited with code {code} while starting "
                             f"({self.waiting_for}).\n{self.log_tail()}")
        return super().check_subprocess()

    # -- our interface

    @property
    def waiting_for(self) -> str:
        return "its readiness check"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float | None = None) -> Self:
        if self.running():
            return self
        if self.process is not None:  # died (killed, crashed): forget it, start anew
            self.kill(wait=False)
        if timeout is not None:
            self._timeout = timeout
        output = self._open_log()
        self._stdout = output
        self._stderr = subprocess.STDOUT if output else None
        try:
            super().start()
        except TimeoutExpired:
            raise StackError(f"{self.name} not ready after {self._timeout:.0f}s "
                             f"({self.waiting_for}).\n{self.log_tail()}") from None
        except OSError as exc:
            raise StackError(f"{self.name}: cannot run {self.command_parts[0]}: {exc}") from exc
        finally:
            if output is not None:
                output.close()  # the child has its own descriptor
            self._stdout = self._stderr = None
        return self

    def stop(self, stop_signal: int | None = None, expected_returncode: int | None = None,
             *, timeout: float | None = None) -> Self:
        """The stop signal to the process group, SIGKILL after ``timeout``."""
        if self.process is None:
            return self
        saved, self._timeout = self._timeout, timeout or self.stop_timeout
        try:
            super().stop(stop_signal, expected_returncode)
        except ProcessFinishedWithError as exc:
            log.debug("%s stopped with exit code %s", self.name, exc.exit_code)
        finally:
            self._timeout = saved
        return self

    def wait(self, timeout: float | None = None) -> int:
        if self.process is None:
            raise StackError(f"{self.name} is not started")
        return self.process.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def _open_log(self) -> IO[bytes] | None:
        if self.log_path is None:
            return None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return self.log_path.open("ab")


class SupervisedProcess(Supervision):
    """Ready when ``ready()`` returns true."""

    def __init__(self, command: Sequence[str | Path | int], *, ready: Callable[[], bool],
                 waiting_for: str, **kwargs: Any) -> None:
        self._ready = ready
        self._waiting_for = waiting_for
        super().__init__(command, **kwargs)

    @property
    def waiting_for(self) -> str:
        return self._waiting_for

    def after_start_check(self) -> bool:
        return self._ready()


class SupervisedHTTP(Supervision, HTTPExecutor):
    """Ready once ``GET url`` gets any HTTP answer (an error status is an answer)."""

    def __init__(self, command: Sequence[str | Path | int], *, url: str,
                 **kwargs: Any) -> None:
        super().__init__(command, url=url, status=r"^\d{3}$", method="GET",
                         request_timeout=2, **kwargs)

    @property
    def waiting_for(self) -> str:
        return f"GET {self.url.geturl()}"


class SupervisedTCP(Supervision, TCPExecutor):
    """Ready once its port accepts connections."""

    def __init__(self, command: Sequence[str | Path | int], *, port: int,
                 **kwargs: Any) -> None:
        super().__init__(command, host=LOOPBACK, port=port, **kwargs)

    @property
    def waiting_for(self) -> str:
        return f"port {self.port}"

    def after_start_check(self) -> bool:
        # TCPExecutor reuses its pre-start check (a connect) here; ours is the port check.
        return bool(TCPExecutor.pre_start_check(self))


class OneProcessService:
    """Base of the stack's services: each runs as one supervised process."""

    _process: Supervision | None = None

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Run a shutdown without a second Ctrl-C cutting it short (children still get stopped;
    a stuck one is SIGKILLed by its timeout)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
