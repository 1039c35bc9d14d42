"""`python -m devhost stack` and LocalStack's process management, for real.

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
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from azure.storage.blob import BlobServiceClient

from devhost.stack import (
    ROOT,
    LocalStack,
    StackPorts,
    free_ports,
    http_answers,
    tcp_answers,
)
from tests.devhost.helpers import SAMPLE_APP, SAMPLE_HOST_JSON


def stack_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "devhost", "stack", "--port", str(port),
            "--data-dir", str(data_dir), "--app", SAMPLE_APP,
            "--host-json", str(SAMPLE_HOST_JSON), "--no-settings", "--no-provision"]


def stack_env(ports: StackPorts, records: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update({
        "AZURITE_BLOB_PORT": str(ports.blob), "AZURITE_QUEUE_PORT": str(ports.queue),
        "AZURITE_TABLE_PORT": str(ports.table), "MOTO_PORT": str(ports.s3),
        "SAMPLE_RECORD_FILE": str(records), "SAMPLE_QUEUE": "stack-work",
        "SAMPLE_CONTAINER": "stack-files", "SAMPLE_SCHEDULE": "0 0 0 1 1 *",
    })
    return env


class RunningStack:
    """One `python -m devhost stack` in its own process group, as a terminal would run it."""

    def __init__(self, data_dir: Path, ports: StackPorts, port: int) -> None:
        self.port = port
        self.log = data_dir.parent / f"stack-{time.monotonic_ns()}.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                stack_command(data_dir, port), cwd=ROOT,
                env=stack_env(ports, data_dir.parent / "records.jsonl"),
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not http_answers("127.0.0.1", self.port, "/health"):
            assert self.process.poll() is None, f"stack exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"stack not ready:\n{self.log.read_text()}"
            time.sleep(0.2)

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
def stack_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


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
        busy_ports = StackPorts(busy, ports.queue, ports.table, ports.s3)
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
    first = RunningStack(stack_dir, ports, port)
    running.append(first)
    first.wait_ready()
    children = first.descendants()
    names = " ".join(" ".join(child.cmdline()) for child in children)
    for expected in ("azurite", "moto.server", "postgres", "devhost serve"):
        assert expected in names
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
    assert not any(tcp_answers(p) for p in (ports.blob, ports.queue, ports.table, ports.s3, port))

    second = RunningStack(stack_dir, ports, port)
    running.append(second)
    second.wait_ready()
    blob = blobs.get_blob_client("kept", "kept.txt").download_blob().readall()
    assert blob == b"still here"
    with psycopg.connect(second.database_url()) as connection:
        assert connection.execute("SELECT value FROM kept").fetchone() == ("still here",)
    children = second.descendants()

    assert second.interrupt(signal.SIGINT) == 0  # Ctrl-C
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], [process.cmdline() for process in alive]


def test_backup_store_can_go_down_and_come_back_on_its_port(tmp_path: Path) -> None:
    with LocalStack(tmp_path, StackPorts.free(), services=("s3",)) as stack:
        port = stack.ports.s3
        assert http_answers("127.0.0.1", port, "/moto-api/")
        stack.stop_s3()
        assert not tcp_answers(port)
        stack.start_s3()
        assert http_answers("127.0.0.1", port, "/moto-api/")
        assert stack.env()["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{port}"
    assert not tcp_answers(port)
