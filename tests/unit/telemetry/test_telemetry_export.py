"""The real exporter, configured by shared/telemetry.py, sends spans to the connection
string's ingestion endpoint with the managed identity's bearer token (Application Insights
with local auth disabled takes nothing else). The endpoint is a TLS server on loopback (the
token policy refuses plain HTTP); the exporter runs in a child process whose sockets can
reach loopback only, and resource detection is the Functions one (no metadata service call).
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.conftest import documented_setting_names

ROOT = Path(__file__).resolve().parents[3]
CLIENT_ID = "11111111-2222-3333-4444-555555555555"

CHILD = r"""
import json, socket, sys, time

_connect = socket.socket.connect
def _loopback_only(self, address):
    if isinstance(address, tuple) and not str(address[0]).startswith("127."):
        raise OSError(f"the test allows loopback only, not {address[0]}")
    return _connect(self, address)
socket.socket.connect = _loopback_only

import azure.identity
from azure.core.credentials import AccessToken

asked = []
class ManagedIdentity:
    def __init__(self, **kwargs):
        asked.append({"init": kwargs})
    def get_token(self, *scopes, **kwargs):
        asked.append({"scopes": list(scopes)})
        return AccessToken("managed-identity-token", int(time.time()) + 3600)
azure.identity.ManagedIdentityCredential = ManagedIdentity

from shared import telemetry
from shared.settings import Settings
assert telemetry.configure_telemetry(Settings())
from opentelemetry import trace
with trace.get_tracer("telemetry-test").start_as_current_span("telemetry-probe"):
    pass
trace.get_tracer_provider().force_flush(120_000)  # a loaded machine exports slowly
print(json.dumps(asked))
"""


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def ingestion(tmp_path: Path) -> Iterator[tuple[int, Path, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            items = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            if len(items) == 1 and isinstance(items[0], list):
                items = items[0]
            received.append({"path": self.path, "authorization":
                             self.headers.get("Authorization", ""), "items": items})
            answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items),
                                 "errors": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    cert, key = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert, received
    finally:
        server.shutdown()
        server.server_close()


def test_spans_reach_the_ingestion_endpoint_with_the_identity_token(ingestion, tmp_path):
    port, cert, received = ingestion
    # None of the app's settings from this process (a session fixture may have set the
    # stack's): the child reads exactly these.
    documented = {name.lower() for name in documented_setting_names()}
    env = {k: v for k, v in os.environ.items() if k.lower() not in documented
           and not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "AZURE_", "WEBSITE_"))}
    env.update({
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint=https://127.0.0.1:{port}/"),
        "AZURE_CLIENT_ID": CLIENT_ID,
        "FUNCTIONS_WORKER_RUNTIME": "python",  # as in Azure: no VM metadata probe
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",  # no SDK self-reporting
        "REQUESTS_CA_BUNDLE": str(cert),
        "TMPDIR": str(tmp_path),  # the exporter's retry storage
    })
    result = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    asked = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"init": {"client_id": CLIENT_ID}} in asked
    assert {"scopes": ["https://monitor.azure.com//.default"]} in asked
    tracks = [r for r in received if r["path"].endswith("/track")]
    assert tracks, (received, result.stderr[-2000:])
    assert all(r["authorization"] == "Bearer managed-identity-token" for r in tracks)
    names = [item.get("data", {}).get("baseData", {}).get("name")
             for r in tracks for item in r["items"]]
    assert "telemetry-probe" in names
