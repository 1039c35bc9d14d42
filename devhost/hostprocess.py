"""``python -m devhost serve`` as a supervised child process, ready once ``GET /health``
answers (any status: a 503 still means the host serves)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from devhost.ports import LOOPBACK, Port
from devhost.processes import SupervisedHTTP

ROOT = Path(__file__).resolve().parent.parent


class DevhostProcess:
    def __init__(self, env: Mapping[str, str], port: int, *, app: str | None = None,
                 bind: str = LOOPBACK, host_json: Path | None = None, root: Path = ROOT,
                 log_path: Path | None = None, load_settings_file: bool = False,
                 port_variable: str = "DEVHOST_PORT") -> None:
        self.port = port
        self.bind = bind
        argv: list[str | Path] = [sys.executable, "-m", "devhost", "serve",
                                  "--host", bind, "--port", str(port), "--root", root]
        if app:
            argv += ["--app", app]
        if host_json:
            argv += ["--host-json", host_json]
        if not load_settings_file:
            argv.append("--no-settings")
        self._process = SupervisedHTTP(
            argv, url=f"{self.url}/health", name="devhost", log_path=log_path, cwd=root,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            ports=[Port(port, "devhost", port_variable)],
        )

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running()

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited (negative: the signal that ended it)."""
        process = self._process.process
        return None if process is None else process.poll()

    def start(self, timeout: float = 60.0) -> DevhostProcess:
        self._process.start(timeout)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._process.stop(timeout=timeout)

    def restart(self, timeout: float = 60.0) -> DevhostProcess:
        self.stop()
        return self.start(timeout)

    def wait(self, timeout: float | None = None) -> int:
        return self._process.wait(timeout)

    def log_tail(self, lines: int = 40) -> str:
        return self._process.log_tail(lines)

    def log_text(self) -> str:
        path = self._process.log_path
        return path.read_text(errors="replace") if path and path.exists() else ""

    def __enter__(self) -> DevhostProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
