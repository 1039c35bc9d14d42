"""`python -m devhost stack` and the stack's process supervision, for real.

The stack command runs here on free ports (the fixed ones may be in use by a `make run`),
with the sample app and without provisioning (that is the app's business, tested elsewhere).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
from azure.storage.blob import BlobServiceClient

from devhost.errors import StackError
from devhost.ports import StackPorts, free_ports, tcp_answers
from devhost.processes import SupervisedProcess
from devhost.stack import ROOT, LocalStack
from tests.devhost.helpers import SAMPLE_APP, SAMPLE_HOST_JSON, wait_until


def stack_command(data_dir: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "devhost", "stack", "--port", str(port),
            "--data-dir", str(data_dir), "--app", SAMPLE_APP,
            "--host-json", str(SAMPLE_HOST_JSON), "--no-settings", "--no-provision", *extra]


def stack_env(ports: StackPorts, records: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update({
        "AZURITE_BLOB_PORT": str(ports.blob), "AZURITE_QUEUE_PORT": str(ports.queue),
        "AZURITE_TABLE_PORT": str(ports.table), "MOTO_PORT": str(ports.s3),
        "REDIS_PORT": str(ports.redis), "VARNISH_PORT": str(ports.varnish),
        "SAMPLE_RECORD_FILE": str(records), "SAMPLE_QUEUE": "stack-work",
        "SAMPLE_CONTAINER": "stack-files", "SAMPLE_SCHEDULE": "0 0 0 1 1 *",
    })
    return env


def answers_http(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def redis_ping(port: int) -> bytes:
    """PING in the Redis protocol's inline form; a live server answers ``+PONG``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64)


class RunningStack:
    """One `python -m devhost stack` in its own process group, as a terminal would run it."""

    def __init__(self, data_dir: Path, ports: StackPorts, port: int, *extra: str) -> None:
        self.port = port
        self.log = data_dir.parent / f"stack-{time.monotonic_ns()}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                stack_command(data_dir, port, *extra), cwd=ROOT,
                env=stack_env(ports, data_dir.parent / "records.jsonl"),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        def ready() -> bool:
            assert self.process.poll() is None, f"stack exited:\n{self.log.read_text()}"
            return answers_http(f"http://127.0.0.1:{self.port}/health")

        wait_until(ready, f"the stack to serve\n{self.log.read_text()}", timeout, interval=0.2)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def database_url(self) -> str:
        match = re.search(r'database="?([^"\s]+)"?', self.log.read_text())
        assert match, self.log.read_text()
        return match.group(1)

    def interrupt(self, sig: int) -> int:
        os.killpg(self.process.pid, sig)
        return self.process.wait(60)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def stack_dir(service_dir: Callable[[str], Path]) -> Path:
    return service_dir("stack-command") / "data"


@pytest.fixture
def ports() -> StackPorts:
    return StackPorts.free()


@pytest.fixture
def running(stack_dir: Path, ports: StackPorts) -> Iterator[list[RunningStack]]:
    started: list[RunningStack] = []
    yield started
    for stack in started:
        stack.kill()


def test_busy_port_is_one_clear_line_and_nothing_starts(stack_dir: Path,
                                                        ports: StackPorts) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        busy_ports = StackPorts(busy, ports.queue, ports.table, ports.s3, ports.redis,
                                ports.varnish)
        result = subprocess.run(
            stack_command(stack_dir, free_ports(1)[0]), cwd=ROOT,
            env=stack_env(busy_ports, stack_dir.parent / "records.jsonl"),
            capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 1
    assert f"port {busy} (Azurite blob) is already in use" in result.stderr
    assert "AZURITE_BLOB_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not stack_dir.exists()


def test_stack_serves_stops_cleanly_and_keeps_its_data(
    stack_dir: Path, ports: StackPorts, running: list[RunningStack],
) -> None:
    port = free_ports(1)[0]
    first = RunningStack(stack_dir, ports, port, "--redis")
    running.append(first)
    first.wait_ready()
    children = first.descendants()
    names = " ".join(" ".join(child.cmdline()) for child in children)
    for expected in ("azurite", "moto.server", "postgres", "redis-server", "devhost serve"):
        assert expected in names
    assert redis_ping(ports.redis) == b"+PONG\r\n"
    # Leave data in each store.
    blobs = BlobServiceClient.from_connection_string(
        LocalStack(stack_dir, ports, services=("azurite",)).azurite_connection_string)
    blobs.create_container("kept").upload_blob("kept.txt", b"still here")
    with psycopg.connect(first.database_url(), autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (value text)")
        connection.execute("INSERT INTO kept VALUES ('still here')")

    assert first.interrupt(signal.SIGTERM) == 0
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], [process.cmdline() for process in alive]
    every_port = (ports.blob, ports.queue, ports.table, ports.s3, ports.redis, port)
    assert not any(tcp_answers(p) for p in every_port)

    second = RunningStack(stack_dir, ports, port)  # without --redis: none is started
    running.append(second)
    second.wait_ready()
    blob = blobs.get_blob_client("kept", "kept.txt").download_blob().readall()
    assert blob == b"still here"
    with psycopg.connect(second.database_url()) as connection:
        assert connection.execute("SELECT value FROM kept").fetchone() == ("still here",)
    children = second.descendants()
    assert "redis-server" not in " ".join(" ".join(child.cmdline()) for child in children)

    assert second.interrupt(signal.SIGINT) == 0  # Ctrl-C
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], [process.cmdline() for process in alive]


def test_backup_store_can_go_down_and_come_back_on_its_port(tmp_path: Path) -> None:
    with LocalStack(tmp_path, StackPorts.free(), services=("s3",)) as stack:
        assert stack.s3 is not None
        moto_api = f"{stack.s3.endpoint}/moto-api/"
        assert answers_http(moto_api)
        stack.s3.stop()
        assert not tcp_answers(stack.ports.s3)
        stack.s3.start()
        assert answers_http(moto_api)
        assert stack.env()["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{stack.ports.s3}"
    assert not tcp_answers(stack.ports.s3)


def test_redis_answers_ping_keeps_nothing_and_stops_with_the_stack(tmp_path: Path) -> None:
    with LocalStack(tmp_path, StackPorts.free(), services=("redis",)) as stack:
        port = stack.ports.redis
        assert stack.env()["REDIS_URL"] == f"redis://127.0.0.1:{port}/0"
        assert redis_ping(port) == b"+PONG\r\n"
    assert not tcp_answers(port)
    # In memory only: nothing was written to disk for a later run to load.
    assert not list((tmp_path / "redis").glob("*.rdb"))
    assert not list((tmp_path / "redis").glob("appendonly*"))


def test_a_child_that_exits_while_starting_is_reported_with_its_output(tmp_path: Path) -> None:
    child = SupervisedProcess(
        [sys.executable, "-c", "print('bad configuration line 3'); raise SystemExit(3)"],
        name="broken", ready=lambda: False, waiting_for="never", log_path=tmp_path / "b.log",
    )
    with pytest.raises(StackError) as failure:
        child.start()
    message = str(failure.value)
    assert "broken exited with code 3 while starting (never)" in message
    assert "bad configuration line 3" in message
    assert not child.running()


def test_a_child_never_ready_is_killed_after_its_timeout(tmp_path: Path) -> None:
    child = SupervisedProcess([sys.executable, "-c", "import time; time.sleep(60)"],
                              name="slow", ready=lambda: False, waiting_for="a port",
                              log_path=tmp_path / "s.log", timeout=1)
    with pytest.raises(StackError, match=r"slow not ready after 1s \(a port\)"):
        child.start()
    assert not child.running()


def test_children_die_with_their_parent_even_after_sigkill(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: nothing of ours is left running when we are killed outright."""
    parent_code = (
        "import sys, time\n"
        "from devhost.processes import SupervisedProcess\n"
        "child = SupervisedProcess([sys.executable, '-c', 'import time; time.sleep(120)'],\n"
        "    name='child', ready=lambda: True, waiting_for='nothing', log_path=None).start()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.is_running()
        parent.kill()
        parent.wait(10)
        child.wait(10)  # raises psutil.TimeoutExpired if the child outlived its parent
    finally:
        if parent.poll() is None:
            parent.kill()
