"""HTTP triggers served by the devhost: routes, methods, errors, response conversion."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devhost.hostprocess import DevhostProcess


@pytest.fixture(scope="module")
def client(sample_host: DevhostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sample_host.url, timeout=10) as http:
        yield http


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details", "timestamp", "request_id"}
    assert error["code"] == code
    assert error["details"] == {}
    assert error["timestamp"].endswith("Z")
    return error


def test_route_passes_path_parameters_and_query(client: httpx.Client) -> None:
    response = client.get("/items/abc-42", params={"x": "1"})
    assert response.status_code == 200
    assert response.json() == {"id": "abc-42", "method": "GET", "body": None, "query": {"x": "1"}}


def test_route_streams_the_request_body(client: httpx.Client) -> None:
    response = client.post("/items/7", content=b"payload")
    assert response.json()["body"] == "payload"


def test_literal_route_wins_over_parameter_route(client: httpx.Client) -> None:
    assert client.get("/items/special").json() == {"special": True}


def test_route_constraint_is_stripped(client: httpx.Client) -> None:
    response = client.delete("/files/0b7e4bb2-3f55-4a34-b6a8-29bd0c5b2f11/raw")
    assert response.status_code == 204
    assert response.headers["x-deleted"] == "0b7e4bb2-3f55-4a34-b6a8-29bd0c5b2f11"


def test_get_route_also_answers_head_without_body(client: httpx.Client) -> None:
    response = client.head("/items/abc")
    assert response.status_code == 200
    assert response.content == b""


def test_unregistered_method_is_405_with_error_body(client: httpx.Client) -> None:
    response = client.delete("/items/abc", headers={"X-Request-ID": "req-405"})
    error = assert_error_body(response, 405, "METHOD_NOT_ALLOWED")
    assert error["request_id"] == "req-405"
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_unknown_route_is_404_with_error_body(client: httpx.Client) -> None:
    response = client.get("/no/such/route", headers={"X-Request-ID": "req-404"})
    error = assert_error_body(response, 404, "NOT_FOUND")
    assert error["request_id"] == "req-404"
    assert response.headers["x-request-id"] == "req-404"


def test_request_id_is_generated_when_absent(client: httpx.Client) -> None:
    error = assert_error_body(client.get("/nowhere"), 404, "NOT_FOUND")
    assert len(error["request_id"]) >= 16


def test_function_exception_is_500_without_trace(client: httpx.Client,
                                                 sample_host: DevhostProcess) -> None:
    response = client.get("/boom")
    assert_error_body(response, 500, "INTERNAL_ERROR")
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    # ...but the host's log has it.
    assert "secret internal detail" in sample_host.log_text()


def test_sync_function_returning_http_response_is_converted(client: httpx.Client) -> None:
    response = client.get("/legacy")
    assert response.status_code == 201
    assert response.text == "made"
    assert response.headers["x-legacy"] == "yes"
    assert response.headers["content-type"].startswith("text/plain")


def test_one_access_log_line_per_request(client: httpx.Client,
                                         sample_host: DevhostProcess) -> None:
    client.get("/items/logged-once")
    lines = [line for line in sample_host.log_text().splitlines()
             if "logger=devhost.access" in line and "path=/items/logged-once" in line]
    assert len(lines) == 1
    assert "method=GET" in lines[0]
    assert "status=200" in lines[0]
    assert " ms=" in lines[0]


def test_concurrent_requests_are_served(client: httpx.Client, sample_host: DevhostProcess) -> None:
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: client.get(f"/items/{i}").status_code, range(32)))
    assert statuses == [200] * 32
