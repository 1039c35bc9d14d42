"""A private stack + devhost for benchmarks, and small measuring helpers."""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from azure.storage.blob import BlobServiceClient, ContainerClient

from devhost.hostprocess import DevhostProcess
from devhost.ports import StackPorts, free_ports
from devhost.stack import LocalStack
from devhost.tokens import mint_token

MiB = 1024 * 1024


@dataclass
class Bench:
    stack: LocalStack
    env: dict[str, str]
    data_dir: Path

    def devhost(self, **extra_env: str) -> DevhostProcess:
        port = free_ports(1)[0]
        env = {**self.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **extra_env}
        return DevhostProcess(env, port, log_path=self.data_dir / f"devhost-{port}.log").start()

    def token(self, sub: str, role: str = "admin") -> str:
        return mint_token(sub, role, self.env["JWT_SECRET"])

    def container(self) -> ContainerClient:
        service = BlobServiceClient.from_connection_string(self.env["AzureWebJobsStorage"])
        return service.get_container_client("visiobook-files")


@contextlib.contextmanager
def bench_stack() -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        data_dir = Path(tmp)
        stack = LocalStack(data_dir, StackPorts.free())
        with stack:
            # Development: the stack signs tokens with the development JWT secret.
            env = {**stack.env(), "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
                   "MAX_FILE_SIZE": "1GB", "QUOTA_USER_BYTES": "100GB",
                   "QUOTA_PREMIUM_BYTES": "100GB", "LIFECYCLE_SCHEDULE": "0 0 0 1 1 *",
                   "AZURE_CONTAINER_NAME": "visiobook-files",
                   "ALLOWED_MIME_TYPES": "image/png,video/mp4,text/plain",
                   # the transform triggers' %setting% (local.settings.json has it for make run)
                   "TRANSFORM_QUEUE_NAME": "transformations"}
            stack.provision(env)
            yield Bench(stack, env, data_dir)


class PeakRss:
    """Samples a process's resident memory in a thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def interleaved(runs: int, actions: dict[str, Callable[[int], object]],
                alternate: bool = False) -> dict[str, float]:
    """Median wall time of each action, the actions taking turns so that noise from the
    rest of the machine falls on all of them alike; ``alternate`` reverses their order every
    other run, so that none always runs right after another's I/O or cache misses."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for run in range(runs):
        turn = list(actions.items())
        for name, action in (turn[::-1] if alternate and run % 2 else turn):
            times[name].append(timed(functools.partial(action, run)))
    return {name: statistics.median(values) for name, values in times.items()}


def make_file(path: Path, size: int, header: bytes = b"\x89PNG\r\n\x1a\n") -> Path:
    """``size`` bytes that pass the PNG magic-number check, without holding them in memory."""
    with path.open("wb") as out:
        out.write(header)
        left = size - len(header)
        while left > 0:
            block = min(left, 4 * MiB)
            out.write(_random_block(block))
            left -= block
    return path


def _random_block(size: int) -> bytes:
    return os.urandom(size)


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<48} {value:>14}  {note}"
