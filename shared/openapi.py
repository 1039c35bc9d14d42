"""The OpenAPI 3.1 document of the whole API, generated from the pydantic models the
handlers use (API Management imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import SERVICE_NAME, SERVICE_VERSION
from shared.delivery.download import DownloadQuery
from shared.files.models import (
    DeleteResponse,
    FileDetailResponse,
    FileListResponse,
    FileUpdate,
    FileUpdateResponse,
    ListQuery,
    RestoreResponse,
    UploadMetadata,
    UploadResponse,
)

REF = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]
    timestamp: str
    request_id: str


class ErrorResponse(BaseModel):
    error: ErrorBody


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: dict[int, tuple[str, type[BaseModel] | None]]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    multipart: bool = False
    auth: bool = True
    path_params: tuple[str, ...] = field(default_factory=tuple)


_FILE_ID = ("file_id",)
OPERATIONS = [
    Operation("get", "/health", "Health of the service and its dependencies",
              {200: ("UP or DEGRADED", None), 503: ("A required dependency is down", None)},
              auth=False),
    Operation("post", "/api/v1/storage/upload", "Upload a file (multipart/form-data)",
              {201: ("Stored", UploadResponse), 409: ("Same bytes already stored", None),
               413: ("Too large or quota exceeded", None), 415: ("Type not allowed", None),
               422: ("Checksum mismatch or invalid metadata", None)},
              body=UploadMetadata, multipart=True),
    Operation("get", "/api/v1/storage/files", "List the caller's files",
              {200: ("A page of files", FileListResponse)}, query=ListQuery),
    Operation("get", "/api/v1/storage/files/{file_id}", "A file's details",
              {200: ("The file", FileDetailResponse)}, path_params=_FILE_ID),
    Operation("put", "/api/v1/storage/files/{file_id}", "Update a file's metadata",
              {200: ("Updated", FileUpdateResponse)}, body=FileUpdate, path_params=_FILE_ID),
    Operation("delete", "/api/v1/storage/files/{file_id}",
              "Move a file to the trash, or delete it for good with permanent=true",
              {200: ("Deleted", DeleteResponse)}, path_params=_FILE_ID),
    Operation("post", "/api/v1/storage/files/{file_id}/restore", "Restore a file from the trash",
              {200: ("Restored", RestoreResponse), 410: ("Recovery deadline passed", None)},
              path_params=_FILE_ID),
    Operation("get", "/api/v1/storage/download/{file_id}",
              "Download: 302 to a short-lived signed URL (encrypted files, PDFs and active "
              "types are streamed, the latter with Content-Security-Policy: sandbox)",
              {302: ("Redirect to the bytes", None),
               200: ("The bytes, streamed by the service", None)},
              query=DownloadQuery, auth=False, path_params=_FILE_ID),
    Operation("get", "/api/v1/storage/stream/{file_id}",
              "Stream a file with RFC 9110 ranges (also HEAD)",
              {200: ("The whole file", None), 206: ("The requested range(s)", None),
               304: ("Not modified", None), 416: ("Range not satisfiable", None)},
              auth=False, path_params=_FILE_ID),
    Operation("head", "/api/v1/storage/stream/{file_id}",
              "The headers a GET of /stream would send, without the body",
              {200: ("Whole file headers", None), 206: ("Range headers", None),
               304: ("Not modified", None)}, auth=False, path_params=_FILE_ID),
    Operation("get", "/api/v1/openapi.json", "This document", {200: ("OpenAPI 3.1", None)},
              auth=False),
]


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": name in schema.get("required", []),
         "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(op: Operation) -> dict[str, Any]:
    params = [{"name": p, "in": "path", "required": True,
               "schema": {"type": "string", "format": "uuid"}} for p in op.path_params]
    if op.query:
        params += _query_parameters(op.query)
    params.append({"name": "X-Request-ID", "in": "header", "required": False,
                   "schema": {"type": "string"}})
    responses: dict[str, Any] = {}
    for status, (description, model) in op.responses.items():
        entry: dict[str, Any] = {"description": description}
        if model is not None:
            entry["content"] = {"application/json": {"schema": {"$ref": REF.format(
                model=model.__name__)}}}
        responses[str(status)] = entry
    responses["default"] = {"description": "Error", "content": {"application/json": {
        "schema": {"$ref": REF.format(model="ErrorResponse")}}}}
    doc: dict[str, Any] = {"summary": op.summary, "parameters": params, "responses": responses,
                           "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", "").replace(".", "_")}
    if op.body is not None:
        ref = {"$ref": REF.format(model=op.body.__name__)}
        if op.multipart:
            doc["requestBody"] = {"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                    "metadata": ref}}}}}
        else:
            doc["requestBody"] = {"required": True,
                                  "content": {"application/json": {"schema": ref}}}
    doc["security"] = [{"bearerAuth": []}] if op.auth else [{}, {"bearerAuth": []}]
    return doc


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    models = {m for op in OPERATIONS for _, m in op.responses.values() if m}
    models |= {op.body for op in OPERATIONS if op.body} | {ErrorResponse}
    _, schemas = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": SERVICE_NAME, "version": SERVICE_VERSION,
                 "description": "File and media storage service of the content application."},
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"}},
        },
    }
