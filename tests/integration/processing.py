"""Helpers of the processing tests: ask for a transformation, wait for it to end, read a
file's details, make media samples as bytes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

TRANSFORM = "/api/v1/storage/transform"


class Pipeline:
    def __init__(self, api: httpx.Client, auth_headers: Callable[..., dict[str, str]],
                 upload: Callable[..., httpx.Response]) -> None:
        self.api = api
        self.auth = auth_headers
        self._upload = upload

    def upload(self, user: str, path: Path, mime: str, *, role: str = "user",
               client: httpx.Client | None = None, **metadata: Any) -> dict[str, Any]:
        response = self._upload(user, path.read_bytes(), filename=path.name, mime=mime,
                                metadata=metadata or None, role=role, client=client)
        assert response.status_code == 201, response.text
        return dict(response.json()["file"])

    def ask(self, user: str, source: str, transformation_type: str, role: str = "user",
            **fields: Any) -> httpx.Response:
        return self.api.post(TRANSFORM, headers=self.auth(user, role), json={
            "source_file_id": source, "transformation_type": transformation_type, **fields})

    def status(self, user: str, transform_id: str, role: str = "user") -> dict[str, Any]:
        response = self.api.get(f"{TRANSFORM}/{transform_id}", headers=self.auth(user, role))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ended(self, user: str, transform_id: str, *, timeout: float = 60.0,
              role: str = "user") -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body = self.status(user, transform_id, role)
            if body["transformation"]["status"] in ("completed", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"transformation still {body['transformation']['status']}")
            time.sleep(0.3)

    def run(self, user: str, source: str, transformation_type: str, role: str = "user",
            **fields: Any) -> dict[str, Any]:
        response = self.ask(user, source, transformation_type, role, **fields)
        assert response.status_code == 202, response.text
        return self.ended(user, response.json()["transformation"]["id"], role=role)

    def detail(self, user: str, file_id: str, role: str = "user") -> dict[str, Any]:
        response = self.api.get(f"/api/v1/storage/files/{file_id}",
                                headers=self.auth(user, role))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def download(self, user: str, file_id: str) -> bytes:
        response = self.api.get(f"/api/v1/storage/download/{file_id}",
                                headers=self.auth(user), follow_redirects=True)
        assert response.status_code == 200, response.text
        return response.content
