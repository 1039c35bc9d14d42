"""An identity provider's JWKS document served over loopback, with the private keys that sign
its tokens: keys can be published, withdrawn, and the endpoint held or broken."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://login.example/tenant-a/v2.0"
AUDIENCE = "api://storage"


@dataclass
class JwksServer:
    url: str = ""
    requests: list[str] = field(default_factory=list)
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    published: set[str] = field(default_factory=set)
    status: int = 200
    # While ``hold`` is clear, requests wait (up to 10 s); ``entered`` says one arrived.
    hold: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.hold.set()

    def add_key(self, kid: str, kind: str = "rsa", publish: bool = True) -> None:
        self.keys[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048)
                          if kind == "rsa" else ec.generate_private_key(ec.SECP256R1()))
        if publish:
            self.published.add(kid)

    def document(self) -> bytes:
        entries = []
        for kid in sorted(self.published):
            key = self.keys[kid]
            if isinstance(key, rsa.RSAPrivateKey):
                public, alg = json.loads(RSAAlgorithm.to_jwk(key.public_key())), "RS256"
            else:
                public, alg = json.loads(ECAlgorithm.to_jwk(key.public_key())), "ES256"
            entries.append({**public, "kid": kid, "use": "sig", "alg": alg})
        return json.dumps({"keys": entries}).encode()

    def token(self, kid: str | None = "rsa-1", sub: str = "user-1", role: str | None = "user",
              *, key_of: str | None = None, algorithm: str | None = None,
              **claims: Any) -> str:
        """A token signed with ``key_of`` (default: ``kid``'s key), naming ``kid``."""
        key = self.keys[key_of or kid]
        payload = {"sub": sub, "exp": int(time.time()) + 300, "iss": ISSUER, "aud": AUDIENCE}
        if role is not None:
            payload["role"] = role
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        if algorithm is None:
            algorithm = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        headers = {"kid": kid} if kid is not None else None
        return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@contextmanager
def serve_jwks() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            state.entered.set()
            state.hold.wait(timeout=10)
            body = state.document() if state.status == 200 else b"{}"
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/discovery/v2.0/keys"
    try:
        yield state
    finally:
        state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
