"""The methods of a path, read from the OpenAPI document's operations (for 405's Allow)."""

from __future__ import annotations

from shared.routes import allowed_methods

ID = "0b6c5c2e-8d51-4b1e-9a53-4a0f4b7b1c11"


def test_methods_of_known_paths() -> None:
    assert allowed_methods(f"/api/v1/storage/files/{ID}") == ["DELETE", "GET", "PUT"]
    assert allowed_methods(f"/api/v1/storage/files/{ID}/") == ["DELETE", "GET", "PUT"]
    assert allowed_methods("/API/v1/Storage/FILES") == ["GET"]
    assert allowed_methods(f"/api/v1/storage/stream/{ID}") == ["GET", "HEAD"]
    assert allowed_methods("/health") == ["GET"]
    assert allowed_methods(f"/api/v1/storage/upload/tus/{ID}") == [
        "DELETE", "HEAD", "OPTIONS", "PATCH", "POST"]


def test_unknown_paths_have_none() -> None:
    assert allowed_methods("/api/v1/storage/nothing") is None
    assert allowed_methods(f"/api/v1/storage/files/{ID}/extra") is None
    assert allowed_methods("/api/v1/storage/files//restore") is None
