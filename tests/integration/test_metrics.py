"""The devhost's Prometheus endpoint (PROMETHEUS_PORT): requests by route template and
status, their latency, upload bytes and the requests in flight, scraped as Prometheus
would while and after the requests are served."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devhost.ports import free_ports
from tests.integration.helpers import png

UPLOAD = "api/v1/storage/upload"
FILE = "api/v1/storage/files/{file_id}"


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def metrics(devhost_with) -> tuple[httpx.Client, int]:
    port = free_ports(1)[0]
    return devhost_with(PROMETHEUS_PORT=str(port)), port


def multipart(content: bytes, boundary: str) -> tuple[bytes, bytes]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"slow.png\"\r\nContent-Type: image/png\r\n\r\n").encode()
    return head + content[: len(content) // 2], content[len(content) // 2:] + (
        f"\r\n--{boundary}--\r\n").encode()


def test_requests_are_counted_by_route_and_status(metrics, upload, auth_headers):
    client, port = metrics
    before = scrape(port)
    content = png(60_000)
    created = upload("metrics-user", content, mime="image/png", client=client)
    assert created.status_code == 201, created.text
    file_id = created.json()["file"]["id"]
    headers = auth_headers("metrics-user")
    assert client.get(f"/api/v1/storage/files/{file_id}", headers=headers).status_code == 200
    missing = client.get(f"/api/v1/storage/files/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404
    assert client.get("/no/such/route").status_code == 404
    assert client.request("PROPFIND", "/no/such/route").status_code == 404

    after = scrape(port)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "visiobook_http_requests_total"
    assert delta(total, route=UPLOAD, method="POST", status="201") == 1
    assert delta(total, route=FILE, method="GET", status="200") == 1
    assert delta(total, route=FILE, method="GET", status="404") == 1
    assert delta(total, route="unmatched", method="GET", status="404") == 1
    assert delta(total, route="unmatched", method="OTHER", status="404") == 1
    # Only route templates: no file id ever becomes a label value.
    assert not any(file_id in str(labels) for _, labels in after)
    latency = "visiobook_http_request_duration_seconds"
    assert delta(f"{latency}_count", route=UPLOAD, method="POST", status="201") == 1
    assert delta(f"{latency}_sum", route=UPLOAD, method="POST", status="201") > 0
    assert delta("visiobook_upload_bytes_total", route=UPLOAD) >= len(content)
    assert value(after, "visiobook_http_requests_in_flight") == 0


def test_a_request_being_served_is_in_flight(metrics, auth_headers):
    """An upload whose body is half sent: in flight, its bytes so far counted; then done."""
    client, port = metrics
    boundary = uuid.uuid4().hex
    content = png(200_000)
    first, rest = multipart(content, boundary)
    release = threading.Event()

    def body() -> Iterator[bytes]:
        yield first
        release.wait(30)
        yield rest

    before = scrape(port)
    result: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: result.append(client.post(
        f"/{UPLOAD}", content=body(),
        headers={**auth_headers("metrics-slow"), "Content-Length": str(len(first) + len(rest)),
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})))
    sender.start()
    try:
        started = time.monotonic()
        while time.monotonic() - started < 20:
            during = scrape(port)
            if value(during, "visiobook_http_requests_in_flight") >= 1:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the upload never showed as in flight")
        received = (value(during, "visiobook_upload_bytes_total", route=UPLOAD)
                    - value(before, "visiobook_upload_bytes_total", route=UPLOAD))
        assert 0 < received <= len(first)
    finally:
        release.set()
        sender.join(60)
    assert result and result[0].status_code == 201, result and result[0].text
    after = scrape(port)
    assert value(after, "visiobook_http_requests_in_flight") == 0
    assert (value(after, "visiobook_upload_bytes_total", route=UPLOAD)
            - value(before, "visiobook_upload_bytes_total", route=UPLOAD)) == len(first) + len(rest)
