"""PostgreSQL from the pgserver wheel, run directly as our child (not daemonised by pg_ctl) so
that it stops with us. Unix socket only: no TCP port to collide on.

The binaries are found through pgserver's public ``pg_config`` command (``--bindir``), not its
private modules.
"""

from __future__ import annotations

import os
import pwd
import signal
import stat
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import psutil

from devhost.errors import StackError
from devhost.processes import OneProcessService, SupervisedProcess


def _pgserver() -> ModuleType:
    """pgserver, imported late: its import probes the machine."""
    with warnings.catch_warnings():
        # pgserver probes XDG_RUNTIME_DIR at import; we do not use that directory.
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver.utils
    return pgserver


def postgres_bin_dir() -> Path:
    return Path(_pgserver().pg_config(["--bindir"]).strip())


class EmbeddedPostgres(OneProcessService):
    name = "postgres"

    def __init__(self, pgdata: Path, log_path: Path) -> None:
        self.pgdata = pgdata
        self.log_path = log_path
        self.socket_dir: Path | None = None
        # pgserver runs PostgreSQL as its own system user when we are root, as it must.
        self.user = "pgserver" if os.geteuid() == 0 else None

    @property
    def uri(self) -> str:
        if self.socket_dir is None:
            raise StackError("PostgreSQL is not started")
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir), safe='/')}"

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.uri}

    def start(self, timeout: float = 60.0) -> None:
        bin_dir = postgres_bin_dir()
        self._prepare_pgdata(bin_dir)
        self._stop_orphan()
        self.socket_dir = self._socket_dir()
        self._process = SupervisedProcess(
            [bin_dir / "postgres", "-D", self.pgdata, "-k", self.socket_dir,
             "-c", "listen_addresses=", "-c", "logging_collector=off"],
            name="postgres", ready=self._accepts_connections, waiting_for="its socket",
            log_path=self.log_path, user=self.user, cwd=self.pgdata, timeout=timeout,
            # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is safe.
            stop_signal=signal.SIGINT, stop_timeout=20,
        )
        self._process.start()

    def _prepare_pgdata(self, bin_dir: Path) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            self._grant_system_user(bin_dir)
        if (self.pgdata / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.pgdata), "--auth=trust",
             "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
            capture_output=True, text=True, cwd=self.pgdata, check=False, user=self.user,
            group=self.user, extra_groups=[] if self.user else None,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed in {self.pgdata}:\n{result.stdout}{result.stderr}")

    def _grant_system_user(self, bin_dir: Path) -> None:
        utils = _pgserver().utils
        assert self.user is not None
        utils.ensure_user_exists(self.user)
        utils.ensure_prefix_permissions(self.pgdata)
        utils.ensure_prefix_permissions(bin_dir)
        read = stat.S_IRGRP | stat.S_IROTH
        utils.ensure_folder_permissions(bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_folder_permissions(bin_dir.parent / "lib", read)
        entry = pwd.getpwnam(self.user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _stop_orphan(self) -> None:
        """A postmaster left running on this data dir (its parent was SIGKILLed before the
        kernel could tell it) would refuse our start: stop it first."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            orphan = psutil.Process(pid)
            if orphan.name() != "postgres":
                return
        except (ValueError, IndexError, psutil.Error):
            return
        orphan.send_signal(signal.SIGINT)
        try:
            orphan.wait(20)
        except psutil.TimeoutExpired:
            orphan.kill()

    def _socket_dir(self) -> Path:
        fallback = Path(tempfile.gettempdir()) / "devhost-pg"
        socket_dir: Path = _pgserver().utils.find_suitable_socket_dir(self.pgdata, fallback)
        if self.user is not None and socket_dir != self.pgdata:
            socket_dir.chmod(0o777)
        return socket_dir

    def _accepts_connections(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.uri, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False
