"""A stack of the module's own (Azurite, PostgreSQL, moto) and its devhost(s), for tests that
stop services, kill the host or run two of them: never the session's stack.

- ``own_stack``  ``own_stack(**settings) -> OwnStack``: started, provisioned, one devhost;
  stopped at the end of the module
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.soak import SETTINGS
from devhost.hostprocess import DevhostProcess
from devhost.ports import StackPorts, free_ports
from devhost.stack import LocalStack
from devhost.tokens import mint_token
from tests.integration.helpers import Stores


@dataclass
class OwnStack:
    stack: LocalStack
    env: dict[str, str]
    logs: Path
    hosts: list[DevhostProcess] = field(default_factory=list)

    def devhost(self, **settings: str) -> DevhostProcess:
        """Another devhost on this stack (its own port, log and settings)."""
        port = free_ports(1)[0]
        env = {**self.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", **settings}
        host = DevhostProcess(env, port, log_path=self.logs / f"devhost-{port}.log").start()
        self.hosts.append(host)
        return host

    @property
    def host(self) -> DevhostProcess:
        return self.hosts[0]

    def client(self, host: DevhostProcess | None = None) -> httpx.Client:
        return httpx.Client(base_url=(host or self.host).url, timeout=60)

    def headers(self, user: str, role: str = "user") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(user, role, self.env['JWT_SECRET'])}"}

    def stores(self) -> Stores:
        import boto3
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(self.env["AzureWebJobsStorage"])
        s3 = boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL_S3"],
                          region_name=self.env.get("AWS_REGION", "eu-west-1"),
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        return Stores(service.get_container_client(self.env["AZURE_CONTAINER_NAME"]), s3,
                      self.env.get("AWS_S3_BUCKET", "visiobook-backup"),
                      self.env["DATABASE_URL"])


@pytest.fixture(scope="module")
def own_stack(service_dir: Callable[[str], Path]) -> Iterator[Callable[..., OwnStack]]:
    made: list[OwnStack] = []

    def make(**settings: str) -> OwnStack:
        data_dir = service_dir("own")
        stack = LocalStack(data_dir, StackPorts.free())
        stack.start()
        own = OwnStack(stack, {**stack.env(), **SETTINGS, **settings}, data_dir / "logs")
        made.append(own)
        stack.provision(own.env)
        own.devhost()
        return own

    yield make
    for own in made:
        for host in own.hosts:
            host.stop()
        own.stack.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The fuzzing's known findings (test_openapi_fuzz.KNOWN) are expected failures."""
    from tests.reliability.test_openapi_fuzz import KNOWN

    for item in items:
        for operation, finding in KNOWN.items():
            if item.name.endswith(f"[{operation}]"):
                item.add_marker(pytest.mark.xfail(
                    reason=f"for the hardening issue: {finding}", strict=False))


@pytest.fixture
def user() -> str:
    return f"u-{uuid.uuid4().hex[:12]}"


def until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    """Poll until ``condition()`` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (httpx.HTTPError, KeyError, IndexError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        time.sleep(every)
