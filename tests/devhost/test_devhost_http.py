"""HTTP triggers served by the devhost as the Functions host serves them: ASP.NET routing
(case-insensitive, trailing slash ignored, method constraints that fall through, HEAD is not
GET), empty 404/500 answers from the host itself, host.json's functionTimeout enforced."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from devhost.hostprocess import DevhostProcess
from tests.devhost.helpers import Records, wait_until


@pytest.fixture(scope="module")
def client(sample_host: DevhostProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sample_host.url, timeout=10) as http:
        yield http


def assert_host_answer(response: httpx.Response, status: int) -> None:
    """What the host answers by itself: the status and no body."""
    assert response.status_code == status
    assert response.content == b""


def test_route_passes_path_parameters_and_query(client: httpx.Client) -> None:
    response = client.get("/items/abc-42", params={"x": "1"})
    assert response.status_code == 200
    assert response.json() == {"id": "abc-42", "method": "GET", "body": None, "query": {"x": "1"}}


def test_route_streams_the_request_body(client: httpx.Client) -> None:
    response = client.post("/items/7", content=b"payload")
    assert response.json()["body"] == "payload"


def test_literal_route_wins_over_parameter_route(client: httpx.Client) -> None:
    assert client.get("/items/special").json() == {"special": True}


def test_routes_match_case_insensitively_and_keep_the_values_case(client: httpx.Client) -> None:
    assert client.get("/ITEMS/Special").json() == {"special": True}
    assert client.get("/Items/MiXeD").json()["id"] == "MiXeD"


def test_trailing_slash_is_ignored_not_redirected(client: httpx.Client) -> None:
    response = client.get("/items/abc/", follow_redirects=False)
    assert response.status_code == 200
    assert response.json()["id"] == "abc"


def test_route_constraint_must_hold(client: httpx.Client) -> None:
    response = client.delete("/files/0b7e4bb2-3f55-4a34-b6a8-29bd0c5b2f11/raw")
    assert response.status_code == 204
    assert response.headers["x-deleted"] == "0b7e4bb2-3f55-4a34-b6a8-29bd0c5b2f11"
    assert_host_answer(client.delete("/files/not-a-guid/raw"), 404)


def test_head_on_a_get_only_route_is_404(client: httpx.Client) -> None:
    assert_host_answer(client.head("/items/abc"), 404)


def test_unregistered_method_is_an_empty_404(client: httpx.Client) -> None:
    assert_host_answer(client.delete("/items/abc"), 404)
    assert_host_answer(client.request("OPTIONS", "/items/abc"), 404)


def test_unknown_route_is_an_empty_404(client: httpx.Client) -> None:
    assert_host_answer(client.get("/no/such/route"), 404)


def test_a_route_whose_method_does_not_match_falls_through_to_the_catch_all(
    client: httpx.Client,
) -> None:
    assert client.post("/fallback/items/9").json() == {"posted": "9"}
    assert client.get("/fallback/items/9").json() == {"fallback": "items/9"}


def test_function_exception_is_an_empty_500_with_the_trace_in_the_log(
    client: httpx.Client, sample_host: DevhostProcess,
) -> None:
    assert_host_answer(client.get("/boom"), 500)
    assert "secret internal detail" in sample_host.log_text()


def test_function_timeout_cancels_the_invocation(
    client: httpx.Client, sample_host: DevhostProcess, records: Records,
) -> None:
    invocation = uuid.uuid4().hex
    started = time.monotonic()
    response = client.get("/slow", params={"seconds": "30", "id": invocation})
    assert_host_answer(response, 500)
    assert time.monotonic() - started < 10  # the sample host.json's functionTimeout is 1 s
    records.wait_for(lambda found: len(found) == 1, "cancelled", id=invocation)
    assert "Timeout value of 00:00:01 exceeded by function 'Functions.slow'" in (
        sample_host.log_text())


def test_sync_function_is_served(client: httpx.Client) -> None:
    response = client.get("/sync")
    assert response.status_code == 201
    assert response.text == "made"
    assert response.headers["x-sync"] == "yes"
    assert response.headers["content-type"].startswith("text/plain")


def test_a_classic_http_response_is_refused_beside_the_streaming_extension(
    client: httpx.Client, sample_host: DevhostProcess,
) -> None:
    assert_host_answer(client.get("/classic"), 500)
    assert "returned HttpResponse" in sample_host.log_text()


def test_the_app_runs_in_the_development_environment(client: httpx.Client) -> None:
    assert client.get("/environment").json() == {"AZURE_FUNCTIONS_ENVIRONMENT": "Development"}


def test_one_access_log_line_per_request(client: httpx.Client,
                                         sample_host: DevhostProcess) -> None:
    client.get("/items/logged-once")

    def line() -> list[str]:
        return [line for line in sample_host.log_text().splitlines()
                if "logger=devhost.access" in line and "path=/items/logged-once" in line]

    lines = wait_until(line, "the access log line")
    assert len(lines) == 1
    assert "method=GET" in lines[0]
    assert "status=200" in lines[0]
    assert " ms=" in lines[0]


def test_concurrent_requests_are_served(client: httpx.Client) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: client.get(f"/items/{i}").status_code, range(32)))
    assert statuses == [200] * 32
