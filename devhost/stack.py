"""The local services the app talks to, as real child processes.

- Azurite (blob, queue, table) from ``node_modules``;
- an embedded PostgreSQL from the ``pgserver`` wheel, unless a ``DATABASE_URL`` is given;
- moto's S3 server for the backup store;
- ``DevhostProcess``: ``python -m devhost serve`` against them.

Every child runs in its own session (a Ctrl-C meant for us does not reach it half-way; we stop
it in order) and is asked by the kernel to exit if we die (``PR_SET_PDEATHSIG``), so none is
ever left behind, not even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psutil

from shared.settings import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"
DEV_JWT_SECRET = "dev-secret-change-me-please-32-bytes!"
DEFAULT_REGION = "eu-west-1"
PROVISION_MODULES = ("shared.db.migrate", "shared.bootstrap")
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A service could not be started or provisioned; the message says which and why."""


class PortInUseError(StackError):
    pass


# --------------------------------------------------------------------------- ports


@dataclass(frozen=True)
class StackPorts:
    blob: int = 10000
    queue: int = 10001
    table: int = 10002
    s3: int = 5000

    @classmethod
    def free(cls) -> StackPorts:
        """Four distinct ports the OS has just handed out (for tests running side by side)."""
        return cls(*free_ports(4))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackPorts:
        source = os.environ if env is None else env
        defaults = cls()
        return cls(
            blob=int(source.get("AZURITE_BLOB_PORT", defaults.blob)),
            queue=int(source.get("AZURITE_QUEUE_PORT", defaults.queue)),
            table=int(source.get("AZURITE_TABLE_PORT", defaults.table)),
            s3=int(source.get("MOTO_PORT", defaults.s3)),
        )

    def described(self) -> list[tuple[int, str, str]]:
        """(port, what, the variable that moves it)."""
        return [
            (self.blob, "Azurite blob", "AZURITE_BLOB_PORT"),
            (self.queue, "Azurite queue", "AZURITE_QUEUE_PORT"),
            (self.table, "Azurite table", "AZURITE_TABLE_PORT"),
            (self.s3, "moto S3", "MOTO_PORT"),
        ]


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT from our last run is free for the server too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(described: Sequence[tuple[int, str, str]]) -> None:
    for port, what, variable in described:
        if port_in_use(port):
            raise PortInUseError(
                f"port {port} ({what}) is already in use — stop the other process "
                f"or set {variable} to another port"
            )


def tcp_answers(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_answers(url_host: str, port: int, path: str = "/") -> bool:
    """True once the server sends any HTTP response (an error status included)."""
    connection = http.client.HTTPConnection(url_host, port, timeout=2)
    try:
        connection.request("GET", path)
        connection.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


# --------------------------------------------------------------------------- processes


# Loaded once here: the child between fork and exec should do as little as possible.
_LIBC = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(sig: int, parent: int) -> Callable[[], None]:
    def preexec() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class ManagedProcess:
    """A child process in its own session, logging to a file, stopped with a signal."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path | None,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 user: str | None = None, stop_signal: int = signal.SIGTERM) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        output = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT if output else None,
                start_new_session=True, user=self.user, group=self.user,
                extra_groups=[] if self.user else None,
                preexec_fn=_die_with_parent(self.stop_signal, os.getpid()),
            )
        except OSError as exc:
            raise StackError(f"{self.name}: cannot run {self.argv[0]}: {exc}") from exc
        finally:
            if output is not None:
                output.close()

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                # Still unreaped, so its pid is still its group's: kill the whole session.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        self.process = None

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.running:
                raise StackError(f"{self.name} exited while starting ({what}).\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise StackError(f"{self.name} not ready after {timeout:.0f}s ({what}).\n"
                                 f"{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)


# --------------------------------------------------------------------------- PostgreSQL


class EmbeddedPostgres:
    """PostgreSQL from the pgserver wheel, run directly as our child (not daemonised by
    pg_ctl) so that it stops with us. Unix socket only: no TCP port to collide on."""

    def __init__(self, pgdata: Path, log_path: Path) -> None:
        self.pgdata = pgdata
        self.log_path = log_path
        self.socket_dir: Path | None = None
        self._process: ManagedProcess | None = None
        # pgserver runs PostgreSQL as its own system user when we are root, as it must.
        self.user = "pgserver" if os.geteuid() == 0 else None

    @property
    def uri(self) -> str:
        assert self.socket_dir is not None, "PostgreSQL is not started"
        return f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir), safe='/')}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    def start(self, timeout: float = 60.0) -> None:
        with warnings.catch_warnings():
            # pgserver probes XDG_RUNTIME_DIR at import; we do not use that directory.
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH

        self._prepare_pgdata(POSTGRES_BIN_PATH)
        self._stop_orphan()
        self.socket_dir = self._socket_dir()
        self._process = ManagedProcess(
            "postgres",
            [POSTGRES_BIN_PATH / "postgres", "-D", self.pgdata, "-k", self.socket_dir,
             "-c", "listen_addresses=", "-c", "logging_collector=off"],
            log_path=self.log_path, user=self.user, cwd=self.pgdata,
            # SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is safe.
            stop_signal=signal.SIGINT,
        )
        self._process.start()
        self._process.wait_until(self._accepts_connections, timeout, "PostgreSQL socket")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=20)

    def _prepare_pgdata(self, bin_path: Path) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            self._grant_system_user(bin_path)
        if (self.pgdata / "PG_VERSION").exists():
            return
        result = subprocess.run(
            [str(bin_path / "initdb"), "-D", str(self.pgdata), "--auth=trust",
             "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
            capture_output=True, text=True, user=self.user, group=self.user,
            extra_groups=[] if self.user else None, cwd=self.pgdata, check=False,
        )
        if result.returncode != 0:
            raise StackError(f"initdb failed in {self.pgdata}:\n{result.stdout}{result.stderr}")

    def _grant_system_user(self, bin_path: Path) -> None:
        import pwd
        import stat

        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        assert self.user is not None
        ensure_user_exists(self.user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_path)
        read = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(bin_path, read | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(bin_path.parent / "lib", read)
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
        from pgserver.utils import find_suitable_socket_dir

        fallback = Path(tempfile.gettempdir()) / "devhost-pg"
        socket_dir = find_suitable_socket_dir(self.pgdata, fallback)
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


# --------------------------------------------------------------------------- the stack


class LocalStack:
    """Azurite + PostgreSQL (embedded unless ``database_url``) + moto S3 under ``data_dir``.

    ``data_dir`` keeps ``azurite/``, ``pg/`` and ``logs/``; reusing it keeps the data.
    """

    SERVICES = ("azurite", "postgres", "s3")

    def __init__(self, data_dir: Path, ports: StackPorts | None = None,
                 database_url: str | None = None, *, jwt_secret: str | None = None,
                 region: str | None = None, root: Path = ROOT,
                 services: Iterable[str] = SERVICES) -> None:
        self.services = tuple(services)
        unknown = set(self.services) - set(self.SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)}; known: {self.SERVICES}")
        self.data_dir = Path(data_dir).resolve()
        self.ports = ports or StackPorts()
        self.root = root
        self.jwt_secret = jwt_secret or os.environ.get("JWT_SECRET") or DEV_JWT_SECRET
        self.region = region or os.environ.get("AWS_REGION") or DEFAULT_REGION
        self._external_database_url = database_url or None
        self._postgres: EmbeddedPostgres | None = None
        self._azurite: ManagedProcess | None = None
        self._s3: ManagedProcess | None = None

    # -- lifecycle

    def start(self) -> LocalStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            if "azurite" in self.services:
                self.start_azurite()
            if "postgres" in self.services and self._external_database_url is None:
                self.start_postgres()
            if "s3" in self.services:
                self.start_s3()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything this stack started; safe to call twice or after a failed start."""
        for stopper in (self.stop_s3, self.stop_postgres, self.stop_azurite):
            with contextlib.suppress(Exception):
                stopper()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- single services (tests take one down and bring it back on the same port)

    def start_azurite(self, timeout: float = 60.0) -> None:
        executable = self.root / "node_modules" / ".bin" / "azurite"
        if not executable.exists():
            raise StackError(f"{executable} is missing: run `npm ci` (or `make install`)")
        location = self.data_dir / "azurite"
        location.mkdir(parents=True, exist_ok=True)
        self._azurite = ManagedProcess("azurite", [
            # Telemetry would hold open connections to an unreachable endpoint and keep the
            # process alive after its servers closed on SIGTERM.
            executable, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
            "--location", location,
            "--blobHost", LOOPBACK, "--blobPort", self.ports.blob,
            "--queueHost", LOOPBACK, "--queuePort", self.ports.queue,
            "--tableHost", LOOPBACK, "--tablePort", self.ports.table,
        ], log_path=self._log("azurite"), cwd=location)
        self._azurite.start()
        ports = (self.ports.blob, self.ports.queue, self.ports.table)
        self._azurite.wait_until(lambda: all(tcp_answers(port) for port in ports), timeout,
                                 f"ports {ports}")

    def stop_azurite(self) -> None:
        if self._azurite is not None:
            self._azurite.stop()

    def start_postgres(self, timeout: float = 60.0) -> None:
        if self._external_database_url is not None:
            raise StackError("this stack uses an external DATABASE_URL; nothing to start")
        if self._postgres is None:
            self._postgres = EmbeddedPostgres(self.data_dir / "pg", self._log("postgres"))
        self._postgres.start(timeout)

    def stop_postgres(self) -> None:
        if self._postgres is not None:
            self._postgres.stop()

    def start_s3(self, timeout: float = 60.0) -> None:
        self._s3 = ManagedProcess(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", self.ports.s3],
            log_path=self._log("moto"), cwd=self.data_dir,
        )
        self._s3.start()
        self._s3.wait_until(lambda: http_answers(LOOPBACK, self.ports.s3, "/moto-api/"),
                            timeout, f"port {self.ports.s3}")

    def stop_s3(self) -> None:
        if self._s3 is not None:
            self._s3.stop()

    def start_service(self, name: str) -> None:
        {"azurite": self.start_azurite, "postgres": self.start_postgres,
         "s3": self.start_s3}[name]()

    def stop_service(self, name: str) -> None:
        {"azurite": self.stop_azurite, "postgres": self.stop_postgres,
         "s3": self.stop_s3}[name]()

    @property
    def pids(self) -> list[int]:
        """PIDs of the running service processes (PostgreSQL's postmaster included)."""
        processes = [self._azurite, self._s3, self._postgres and self._postgres._process]
        return [p.pid for p in processes if p is not None and p.running and p.pid]

    # -- what the app needs to reach it

    @property
    def azurite_connection_string(self) -> str:
        base = f"http://{LOOPBACK}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};"
            f"AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.ports.blob}/{DEV_ACCOUNT_NAME};"
            f"QueueEndpoint={base}:{self.ports.queue}/{DEV_ACCOUNT_NAME};"
            f"TableEndpoint={base}:{self.ports.table}/{DEV_ACCOUNT_NAME};"
        )

    @property
    def database_url(self) -> str:
        if self._external_database_url is not None:
            return self._external_database_url
        if self._postgres is None or self._postgres.socket_dir is None:
            raise StackError("PostgreSQL is not started")
        return self._postgres.uri

    @property
    def s3_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.s3}"

    def env(self) -> dict[str, str]:
        """The settings that point the app at this stack (only for the services it runs)."""
        env = {"JWT_SECRET": self.jwt_secret}
        if "azurite" in self.services:
            env["AzureWebJobsStorage"] = self.azurite_connection_string
        if "postgres" in self.services or self._external_database_url is not None:
            env["DATABASE_URL"] = self.database_url
        if "s3" in self.services:
            env.update({
                "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,  # the variable boto3 itself reads
            })
        return env

    def provision(self, extra_env: Mapping[str, str] | None = None,
                  timeout: float = 300.0) -> None:
        """Apply the migrations and create containers, queues and bucket, the way a deployment
        does: by running the project's own commands."""
        env = {**os.environ, **self.env(), **(extra_env or {})}
        for module in PROVISION_MODULES:
            result = subprocess.run(
                [sys.executable, "-m", module], cwd=self.root, env=env, capture_output=True,
                text=True, timeout=timeout, check=False,
            )
            if result.returncode != 0:
                raise StackError(
                    f"`python -m {module}` failed (exit {result.returncode}):\n"
                    f"{(result.stdout + result.stderr).strip()[-4000:]}"
                )

    def _log(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"


# --------------------------------------------------------------------------- the devhost


class DevhostProcess:
    """``python -m devhost serve`` as a child process, ready once ``GET /health`` answers."""

    def __init__(self, env: Mapping[str, str], port: int, *, app: str | None = None,
                 bind: str = LOOPBACK, host_json: Path | None = None, root: Path = ROOT,
                 log_path: Path | None = None, load_settings_file: bool = False) -> None:
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
        child_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self._process = ManagedProcess("devhost", argv, log_path=log_path, env=child_env,
                                       cwd=root)

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.running

    def start(self, timeout: float = 60.0) -> DevhostProcess:
        self._process.start()
        try:
            self._process.wait_until(lambda: http_answers(self.bind, self.port, "/health"),
                                     timeout, f"GET {self.url}/health")
        except BaseException:
            self._process.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._process.stop(timeout)

    def restart(self, timeout: float = 60.0) -> DevhostProcess:
        self.stop()
        return self.start(timeout)

    def wait(self, timeout: float | None = None) -> int:
        return self._process.wait(timeout)

    def log_text(self) -> str:
        path = self._process.log_path
        return path.read_text(errors="replace") if path and path.exists() else ""

    def __enter__(self) -> DevhostProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


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

