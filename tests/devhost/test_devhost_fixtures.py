"""The session fixtures other tests rely on (tests/conftest.py), against the real app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt

from devhost.hostprocess import DevhostProcess
from devhost.stack import LocalStack

APP_SETTINGS = {
    "AzureWebJobsStorage", "DATABASE_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "JWT_SECRET", "PUBLIC_BASE_URL",
    "DEVHOST_BLOB_POLL_SECONDS", "AZURE_CONTAINER_NAME", "REDIS_URL",
}


def test_stack_env_points_at_the_session_stack(stack: LocalStack,
                                               stack_env: dict[str, str]) -> None:
    assert set(stack_env) >= APP_SETTINGS
    assert f":{stack.ports.blob}/" in stack_env["AzureWebJobsStorage"]
    assert stack.s3 is not None and stack.redis is not None
    assert stack_env["AWS_ENDPOINT_URL_S3"] == stack.s3.endpoint
    assert stack_env["REDIS_URL"] == stack.redis.url == f"redis://127.0.0.1:{stack.ports.redis}/0"
    # Never the fixed ports of `make run`, nor a machine's own Redis.
    assert {stack.ports.blob, stack.ports.queue, stack.ports.s3, stack.ports.redis}.isdisjoint(
        {10000, 10001, 5000, 6379, 6380})


def test_devhost_serves_the_app(devhost: DevhostProcess, api: httpx.Client,
                                base_url: str, stack_env: dict[str, str]) -> None:
    assert base_url == devhost.url == stack_env["PUBLIC_BASE_URL"]
    response = api.get("/health")
    assert response.status_code in (200, 503)
    assert "status" in response.json()


def test_tokens_are_signed_with_the_stack_secret(
    token_for: Callable[..., str], auth_headers: Callable[..., dict[str, str]],
    stack_env: dict[str, str],
) -> None:
    claims = jwt.decode(token_for("u-1", "admin"), stack_env["JWT_SECRET"], algorithms=["HS256"])
    assert (claims["sub"], claims["role"]) == ("u-1", "admin")
    header = auth_headers("u-2")["Authorization"]
    assert header.startswith("Bearer ")
    assert jwt.decode(header[7:], stack_env["JWT_SECRET"], algorithms=["HS256"])["role"] == "user"


def test_app_functions_are_the_registered_function_objects(
    app_functions: dict[str, Any],
) -> None:
    assert app_functions
    for name, function in app_functions.items():
        assert function.get_function_name() == name
        assert callable(function.get_user_function())
        assert function.get_trigger() is not None
