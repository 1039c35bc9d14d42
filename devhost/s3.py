"""moto's S3 server: a real S3 HTTP endpoint on loopback for the backup store."""

from __future__ import annotations

import sys
from pathlib import Path

from devhost.ports import LOOPBACK, Port
from devhost.processes import OneProcessService, SupervisedHTTP

DEFAULT_REGION = "eu-west-1"


class MotoS3(OneProcessService):
    name = "s3"

    def __init__(self, port: Port, workdir: Path, log_path: Path, region: str) -> None:
        self.port = port
        self.workdir = workdir
        self.log_path = log_path
        self.region = region

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port.number}"

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,  # the variable boto3 itself reads
        }

    def start(self, timeout: float = 60.0) -> None:
        self._process = SupervisedHTTP(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", self.port.number],
            url=f"{self.endpoint}/moto-api/", name="moto", ports=[self.port],
            log_path=self.log_path, cwd=self.workdir, timeout=timeout,
        )
        self._process.start()
