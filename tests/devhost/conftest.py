"""Fixtures for testing the devhost itself: real Azurite only, and the small sample app
(``tests/devhost/sample_app.py``) loaded through the same code path as ``function_app``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.errors import StackError
from devhost.hostprocess import DevhostProcess
from devhost.ports import StackPorts, free_ports
from devhost.stack import LocalStack
from tests.devhost.helpers import (
    SAMPLE_APP,
    SAMPLE_CONTAINER,
    SAMPLE_HOST_JSON,
    SAMPLE_QUEUE,
    Records,
)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = LocalStack(tmp_path_factory.mktemp("azurite"), StackPorts.free(),
                       services=("azurite",))
    try:
        local.start()
    except StackError as exc:
        pytest.fail(f"Azurite did not start: {exc}", pytrace=False)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def records_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("records") / "records.jsonl"
    path.touch()
    return path


@pytest.fixture(scope="session")
def sample_env(azurite: LocalStack, records_file: Path) -> dict[str, str]:
    return {
        **azurite.env(),
        "SAMPLE_DATA": azurite.azurite_connection_string,
        "SAMPLE_RECORD_FILE": str(records_file),
        "SAMPLE_QUEUE": SAMPLE_QUEUE,
        "SAMPLE_CONTAINER": SAMPLE_CONTAINER,
        "SAMPLE_SCHEDULE": "*/2 * * * * *",
        "DEVHOST_BLOB_POLL_SECONDS": "0.3",
    }


@pytest.fixture(scope="session")
def sample_host(sample_env: dict[str, str],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevhostProcess]:
    log_path = tmp_path_factory.mktemp("sample-devhost") / "devhost.log"
    with DevhostProcess(sample_env, free_ports(1)[0], app=SAMPLE_APP,
                        host_json=SAMPLE_HOST_JSON, log_path=log_path) as process:
        yield process


@pytest.fixture(scope="session")
def blob_service(azurite: LocalStack) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite.azurite_connection_string)


@pytest.fixture(scope="session")
def sample_container(blob_service: BlobServiceClient, sample_host: DevhostProcess) -> Any:
    container = blob_service.get_container_client(SAMPLE_CONTAINER)
    if not container.exists():
        container.create_container()
    return container


@pytest.fixture(scope="session")
def queue_client(azurite: LocalStack) -> Callable[[str], QueueClient]:
    def make(name: str) -> QueueClient:
        return QueueClient.from_connection_string(azurite.azurite_connection_string, name)

    return make


@pytest.fixture(scope="session")
def records(records_file: Path) -> Records:
    return Records(records_file)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]
