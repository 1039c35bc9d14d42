"""Debian's ``redis-server`` on a loopback port, in memory only (no RDB, no AOF), for the
limits that instances share through ``REDIS_URL``. Optional: the app falls back to in-process
limits when ``REDIS_URL`` is unset."""

from __future__ import annotations

import shutil
from pathlib import Path

from devhost.errors import StackError
from devhost.ports import LOOPBACK, Port
from devhost.processes import OneProcessService, SupervisedTCP

EXECUTABLE = "redis-server"


def redis_server_path() -> str | None:
    return shutil.which(EXECUTABLE) or shutil.which(EXECUTABLE, path="/usr/bin:/usr/sbin")


class RedisServer(OneProcessService):
    name = "redis"

    def __init__(self, port: Port, workdir: Path, log_path: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port.number}/0"

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def start(self, timeout: float = 30.0) -> None:
        executable = redis_server_path()
        if executable is None:
            raise StackError(f"{EXECUTABLE} is missing: run scripts/install-test-tools.sh as "
                             "root (apt-get install redis-server)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process = SupervisedTCP([
            executable, "--bind", LOOPBACK, "--port", self.port.number,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", self.workdir, "--logfile", "",
        ], port=self.port.number, name="redis", ports=[self.port], log_path=self.log_path,
            cwd=self.workdir, timeout=timeout)
        self._process.start()
