"""Azurite (blob, queue, table) from the project's ``node_modules``."""

from __future__ import annotations

from pathlib import Path

from devhost.errors import StackError
from devhost.ports import LOOPBACK, StackPorts, tcp_answers
from devhost.processes import OneProcessService, SupervisedProcess
from shared.settings import DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME


class Azurite(OneProcessService):
    name = "azurite"

    def __init__(self, root: Path, location: Path, ports: StackPorts, log_path: Path) -> None:
        self.executable = root / "node_modules" / ".bin" / "azurite"
        self.location = location
        self.ports = ports
        self.log_path = log_path

    @property
    def connection_string(self) -> str:
        base = f"http://{LOOPBACK}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT_NAME};"
            f"AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.ports.blob}/{DEV_ACCOUNT_NAME};"
            f"QueueEndpoint={base}:{self.ports.queue}/{DEV_ACCOUNT_NAME};"
            f"TableEndpoint={base}:{self.ports.table}/{DEV_ACCOUNT_NAME};"
        )

    def env(self) -> dict[str, str]:
        return {"AzureWebJobsStorage": self.connection_string}

    def start(self, timeout: float = 60.0) -> None:
        if not self.executable.exists():
            raise StackError(f"{self.executable} is missing: run `npm ci` (or `make install`)")
        self.location.mkdir(parents=True, exist_ok=True)
        ports = self.ports.azurite
        self._process = SupervisedProcess([
            # Telemetry would hold open connections to an unreachable endpoint and keep the
            # process alive after its servers closed on SIGTERM.
            self.executable, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
            "--location", self.location,
            "--blobHost", LOOPBACK, "--blobPort", self.ports.blob,
            "--queueHost", LOOPBACK, "--queuePort", self.ports.queue,
            "--tableHost", LOOPBACK, "--tablePort", self.ports.table,
        ], name="azurite", ports=ports, log_path=self.log_path, cwd=self.location,
            timeout=timeout, waiting_for=f"ports {[port.number for port in ports]}",
            ready=lambda: all(tcp_answers(port.number) for port in ports))
        self._process.start()
