"""Ports of the local stack: the fixed ones of `make run`, free ones for tests, and checks that
name the variable moving a port when it is taken."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from devhost.errors import PortInUseError

LOOPBACK = "127.0.0.1"


class Port(NamedTuple):
    """A port, what listens on it, and the setting that moves it."""

    number: int
    what: str
    variable: str


@dataclass(frozen=True)
class StackPorts:
    blob: int = 10000
    queue: int = 10001
    table: int = 10002
    s3: int = 5000
    # Not 6379: a machine's own Redis usually listens there.
    redis: int = 6380
    varnish: int = 6081  # the local CDN edge (Varnish's own default port)

    @classmethod
    def free(cls) -> StackPorts:
        """Distinct ports the OS has just handed out (for tests running side by side)."""
        return cls(*free_ports(6))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackPorts:
        source = os.environ if env is None else env
        defaults = cls()
        return cls(
            blob=int(source.get("AZURITE_BLOB_PORT", defaults.blob)),
            queue=int(source.get("AZURITE_QUEUE_PORT", defaults.queue)),
            table=int(source.get("AZURITE_TABLE_PORT", defaults.table)),
            s3=int(source.get("MOTO_PORT", defaults.s3)),
            redis=int(source.get("REDIS_PORT", defaults.redis)),
            varnish=int(source.get("VARNISH_PORT", defaults.varnish)),
        )

    @property
    def azurite(self) -> tuple[Port, Port, Port]:
        return (Port(self.blob, "Azurite blob", "AZURITE_BLOB_PORT"),
                Port(self.queue, "Azurite queue", "AZURITE_QUEUE_PORT"),
                Port(self.table, "Azurite table", "AZURITE_TABLE_PORT"))

    @property
    def moto(self) -> Port:
        return Port(self.s3, "moto S3", "MOTO_PORT")

    @property
    def redis_server(self) -> Port:
        return Port(self.redis, "Redis", "REDIS_PORT")

    @property
    def varnish_edge(self) -> Port:
        return Port(self.varnish, "Varnish (local CDN)", "VARNISH_PORT")


# Below the kernel's ephemeral range: a port picked here is not taken meanwhile by some
# process's outgoing connection (the OS hands those out from the ephemeral range, as it does
# for bind(0)), only by another explicit bind, which the check below sees.
_LOWEST_FREE_PORT = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _first_ephemeral_port() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now, outside the ephemeral range when it allows."""
    top = _first_ephemeral_port()
    if top - _LOWEST_FREE_PORT < 1000:  # an unusual range: let the OS choose
        return _os_chosen_ports(count)
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(_LOWEST_FREE_PORT, top)
        if port not in chosen and not port_in_use(port):
            chosen.append(port)
    return chosen


def _os_chosen_ports(count: int) -> list[int]:
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


def check_ports(ports: Iterable[Port]) -> None:
    for port in ports:
        if port_in_use(port.number):
            raise PortInUseError(
                f"port {port.number} ({port.what}) is already in use — stop the other process "
                f"or set {port.variable} to another port"
            )


def tcp_answers(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
