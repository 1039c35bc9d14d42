"""The OpenAPI 3.1 document: self-contained, every operation named and typed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from shared.openapi import document

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    # A deep copy: document() is cached and nothing here may change what others get.
    return json.loads(json.dumps(document()))


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external reference {ref}"
    node: Any = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and token in node, f"unresolvable {ref}"
        node = node[token]
    return node


def test_openapi_version_and_info(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]


def test_document_is_plain_json(doc: dict[str, Any]) -> None:
    json.dumps(document(), allow_nan=False)


def test_every_ref_resolves_to_a_component_schema(doc: dict[str, Any]) -> None:
    found = list(refs(doc))
    assert found
    for ref in found:
        assert ref.startswith("#/components/schemas/"), ref
        target = resolve(doc, ref)
        assert isinstance(target, dict) and ("type" in target or "anyOf" in target
                                             or "enum" in target), ref


def test_no_leftover_pydantic_defs(doc: dict[str, Any]) -> None:
    assert "$defs" not in json.dumps(doc)


def test_every_operation_has_a_unique_operation_id(doc: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in operations(doc)]
    assert all(isinstance(i, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", i) for i in ids), ids
    assert len(ids) == len(set(ids))


def test_every_operation_has_a_default_error_response(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        default = operation["responses"].get("default")
        assert default, f"{method.upper()} {path}"
        if method == "head":  # headers only: no error body to describe
            assert "content" not in default and all(
                "content" not in r for r in operation["responses"].values())
            continue
        schema = default["content"]["application/json"]["schema"]
        error = resolve(doc, schema["$ref"])
        body = resolve(doc, error["properties"]["error"]["$ref"])
        assert set(body["required"]) == {"code", "message", "details", "timestamp",
                                         "request_id"}


def test_every_operation_has_a_success_response(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        statuses = [s for s in operation["responses"] if s != "default"]
        assert any(s.startswith(("2", "3")) for s in statuses), f"{method.upper()} {path}"


def test_path_parameters_match_the_templates(doc: dict[str, Any]) -> None:
    for path, method, operation in operations(doc):
        templated = set(re.findall(r"{([^}]+)}", path))
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == templated, f"{method.upper()} {path}"
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter["required"] is True


def test_security_names_a_declared_scheme(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    for _, _, operation in operations(doc):
        for requirement in operation.get("security", []):
            assert set(requirement) <= set(schemes)


def test_protected_and_public_operations(doc: dict[str, Any]) -> None:
    def security(path: str, method: str) -> list[dict[str, Any]]:
        return doc["paths"][path][method]["security"]

    assert security("/api/v1/storage/upload", "post") == [{"bearerAuth": []}]
    assert security("/api/v1/storage/files", "get") == [{"bearerAuth": []}]
    assert {} in security("/health", "get")


def test_the_specs_routes_are_there(doc: dict[str, Any]) -> None:
    present = {(method, path) for path, method, _ in operations(doc)}
    assert {
        ("get", "/health"),
        ("post", "/api/v1/storage/upload"),
        ("get", "/api/v1/storage/files"),
        ("get", "/api/v1/storage/files/{file_id}"),
        ("put", "/api/v1/storage/files/{file_id}"),
        ("delete", "/api/v1/storage/files/{file_id}"),
        ("post", "/api/v1/storage/files/{file_id}/restore"),
        ("get", "/api/v1/storage/download/{file_id}"),
        ("get", "/api/v1/storage/stream/{file_id}"),
        ("get", "/api/v1/openapi.json"),
    } <= present


def test_upload_is_multipart_with_a_file_and_typed_metadata(doc: dict[str, Any]) -> None:
    operation = doc["paths"]["/api/v1/storage/upload"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["multipart/form-data"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema["type"] == "object"
    assert "file" in schema["required"]
    assert schema["properties"]["file"]["type"] == "string"
    metadata = resolve(doc, schema["properties"]["metadata"]["$ref"])
    assert {"tags", "custom_fields", "is_public", "project_id"} <= set(metadata["properties"])
    assert "201" in operation["responses"]
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert set(resolve(doc, created["$ref"])["properties"]) >= {"file", "upload", "urls"}


def test_request_bodies_refuse_extra_fields_and_require_nothing_defaulted(
    doc: dict[str, Any],
) -> None:
    """The models forbid extra fields and every field has a default: the schema clients see
    must say the same (a serialization-mode schema would mark defaulted fields required)."""
    for name in ("UploadMetadata", "FileUpdate", "MetadataUpdate"):
        schema = doc["components"]["schemas"][name]
        assert schema.get("additionalProperties") is False, name
        assert not schema.get("required"), name


def test_list_query_parameters(doc: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in doc["paths"]["/api/v1/storage/files"]["get"]["parameters"]
                  if p["in"] == "query"}
    assert {"page", "limit", "sort", "order", "trashed", "search", "project_id",
            "file_type"} <= set(parameters)
    assert all(p["required"] is False for p in parameters.values())
    assert set(parameters["sort"]["schema"]["enum"]) == {
        "created_at", "updated_at", "original_name", "size_bytes", "file_type", "mime_type",
    }
    assert set(parameters["order"]["schema"]["enum"]) == {"asc", "desc"}
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["trashed"]["schema"]["type"] == "boolean"


def test_json_bodies_reference_their_models(doc: dict[str, Any]) -> None:
    put = doc["paths"]["/api/v1/storage/files/{file_id}"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/FileUpdate"}
    listed = doc["paths"]["/api/v1/storage/files"]["get"]["responses"]["200"]
    page = resolve(doc, listed["content"]["application/json"]["schema"]["$ref"])
    assert {"files", "pagination", "storage_usage"} <= set(page["required"])


def _params(doc: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in doc["paths"][path][method]["parameters"]}


def test_the_document_names_what_the_service_reads(doc: dict[str, Any]) -> None:
    """Issue 6, item 13: permanent on DELETE, Range and If-* on stream, X-File-Checksum."""
    files = "/api/v1/storage/files/{file_id}"
    permanent = _params(doc, files, "delete")["permanent"]
    assert permanent["in"] == "query" and permanent["schema"]["type"] == "boolean"
    for method in ("get", "head"):
        for path in ("/api/v1/storage/stream/{file_id}", "/files/{file_id}"):
            headers = {n for n, p in _params(doc, path, method).items() if p["in"] == "header"}
            assert {"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match",
                    "If-Unmodified-Since"} <= headers, (method, path)
    assert _params(doc, "/api/v1/storage/upload", "post")["X-File-Checksum"]["in"] == "header"
    assert "408" in doc["paths"]["/api/v1/storage/upload"]["post"]["responses"]


def test_put_body_is_optional_and_ids_are_canonical(doc: dict[str, Any]) -> None:
    put = doc["paths"]["/api/v1/storage/files/{file_id}"]["put"]
    assert put["requestBody"]["required"] is False
    pattern = _params(doc, "/api/v1/storage/files/{file_id}", "get")["file_id"]["schema"]
    assert pattern["pattern"].startswith("^[0-9a-f]{8}-")


def test_constraints_are_documented(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    tags = schemas["UploadMetadata"]["properties"]["tags"]
    assert tags["items"] == {"type": "string", "minLength": 1, "maxLength": 64}
    assert tags["maxItems"] == 50
    update = schemas["FileUpdate"]["properties"]
    assert any(o.get("maxLength") == 255 for o in update["original_name"]["anyOf"])
    assert "16 KiB" in schemas["UploadMetadata"]["properties"]["custom_fields"]["description"]
