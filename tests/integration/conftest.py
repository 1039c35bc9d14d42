"""Integration fixtures: the stores seen directly, a fresh user per test, an upload client,
and ways to wait for background triggers or run the timer in-process."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from tests.integration.helpers import Stores


@pytest.fixture(scope="session")
def stores(stack_env: dict[str, str]) -> Iterator[Stores]:
    service = BlobServiceClient.from_connection_string(stack_env["AzureWebJobsStorage"])
    s3 = boto3.client(
        "s3", endpoint_url=stack_env["AWS_ENDPOINT_URL_S3"], region_name=stack_env["AWS_REGION"],
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    yield Stores(service.get_container_client(stack_env["AZURE_CONTAINER_NAME"]), s3,
                 stack_env["AWS_S3_BUCKET"], stack_env["DATABASE_URL"])
    service.close()


@pytest.fixture(scope="session")
def edge(stack) -> Iterator[httpx.Client]:
    """A client of the local CDN: the session's Varnish in front of its devhost."""
    with httpx.Client(base_url=stack.varnish.url, timeout=30) as client:
        yield client


@pytest.fixture
def user() -> str:
    """A fresh user id per test, so tests never see each other's files or quota."""
    return f"u-{uuid.uuid4().hex[:12]}"


UploadFn = Callable[..., httpx.Response]


@pytest.fixture
def upload(api: httpx.Client, auth_headers: Callable[..., dict[str, str]]) -> UploadFn:
    def send(user: str, content: bytes, *, filename: str = "file.bin",
             mime: str | None = None, metadata: dict | str | None = None, role: str = "user",
             headers: dict[str, str] | None = None, client: httpx.Client | None = None
             ) -> httpx.Response:
        files: dict[str, Any] = {"file": (filename, content, mime or "application/octet-stream")}
        if metadata is not None:
            raw = metadata if isinstance(metadata, str) else json.dumps(metadata)
            files["metadata"] = (None, raw, "application/json")
        return (client or api).post(
            "/api/v1/storage/upload", files=files,
            headers={**auth_headers(user, role), **(headers or {})},
        )

    return send


@pytest.fixture
def wait_for() -> Callable[..., None]:
    """Poll ``condition`` until it holds (background triggers run on their own time)."""
    import time

    def wait(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
             ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (IndexError, KeyError):
                pass  # the row or object is not there yet
            time.sleep(0.2)
        raise AssertionError(f"{what} did not hold within {timeout} s")

    return wait


@pytest.fixture
def run_maintenance(app_functions: dict[str, Any]) -> Callable[..., None]:
    """Run the registered timer function once, in-process, as the host would;
    ``run_maintenance(clock=...)`` runs it with a clock the test controls (days later), and
    other parts of the context may be replaced the same way (``db=...``)."""
    import asyncio

    from azure.functions.timer import TimerRequest

    from functions._context import overridden
    from shared.aio import close_loop_resources

    async def invoke() -> None:
        function = app_functions["lifecycle_maintenance"].get_user_function()
        try:
            await function(TimerRequest(past_due=False))
        finally:
            await close_loop_resources()

    def run(clock: Callable[[], datetime] | None = None, **parts: Any) -> None:
        with overridden(**({"clock": clock} if clock else {}), **parts):
            asyncio.run(invoke())

    return run


@pytest.fixture(scope="session")
def devhost_with(stack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[Callable[..., httpx.Client]]:
    """Another devhost on the same stack with some settings changed (an encryption key,
    say); one process per distinct set of settings, stopped at the end of the session.
    Its blob triggers and its queue workers are off: the session's main devhost already
    backs up and describes every blob, carries out every purge and runs every transformation."""
    from devhost.hostprocess import DevhostProcess
    from devhost.ports import free_ports

    started: dict[tuple, tuple[DevhostProcess, httpx.Client]] = {}

    def make(**settings: str) -> httpx.Client:
        key = tuple(sorted(settings.items()))
        if key not in started:
            port = free_ports(1)[0]
            env = {**stack_env, **settings, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                   "AzureWebJobs.backup_new_blob.Disabled": "true",
                   "AzureWebJobs.cdn_purge_worker.Disabled": "true",
                   "AzureWebJobs.extract_blob_metadata.Disabled": "true",
                   "AzureWebJobs.transform_worker.Disabled": "true",
                   "AzureWebJobs.transform_poison.Disabled": "true"}
            log = tmp_path_factory.mktemp("devhost-extra") / "devhost.log"
            process = DevhostProcess(env, port, log_path=log).start()
            started[key] = (process, httpx.Client(base_url=process.url, timeout=60))
        return started[key][1]

    yield make
    for process, client in started.values():
        client.close()
        process.stop()
