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
from shared.delivery.stream import StreamQuery
from shared.distribution.models import PurgeBody, PurgeResponse, StatsQuery, StatsResponse
from shared.files.models import (
    DeleteQuery,
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
from shared.processing.models import TransformAccepted, TransformRequest, TransformStatus
from shared.resumable.models import (
    ChunkResponse,
    ResumableInit,
    ResumableInitResponse,
    SessionStatusResponse,
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
    headers: tuple[tuple[str, bool, str], ...] = ()  # (name, required, description)
    raw_body: str | None = None  # the media type of a body of raw bytes
    description: str = ""
    body_required: bool = True


_FILE_ID = ("file_id",)
# What /stream (and the CDN origin) read from the request: RFC 9110 ranges and validators.
_RANGE_HEADERS = (
    ("Range", False, "bytes=first-last, bytes=first-, bytes=-suffix (several: multipart/"
                     "byteranges); a malformed one is ignored"),
    ("If-Range", False, "an ETag or a date: the range only while it still holds"),
    ("If-None-Match", False, "ETags (or *): 304 when one matches"),
    ("If-Modified-Since", False, "an HTTP date: 304 when not modified since"),
    ("If-Match", False, "ETags (or *): 412 when none matches"),
    ("If-Unmodified-Since", False, "an HTTP date: 412 when modified since"),
)
# Ids in paths: the canonical UUID text only (lowercase, hyphenated); any other spelling
# answers 404.
UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_REHYDRATING = ("Archived: its rehydration has started; retry after Retry-After seconds",
                None)


def _edge_operations(kind: str, what: str) -> list[Operation]:
    """The CDN's origin routes (GET and HEAD), anonymous: public files only."""
    responses: dict[int, tuple[str, type[BaseModel] | None]] = {
        200: ("The bytes", None), 206: ("The requested range(s)", None),
        202: _REHYDRATING, 304: ("Not modified", None), 404: ("Not public, or none", None)}
    return [Operation(method, f"/{kind}/{{file_id}}",
                      f"{what}, as the CDN fetches it ({method.upper()})", responses,
                      auth=False, path_params=_FILE_ID, headers=_RANGE_HEADERS)
            for method in ("get", "head")]


# Every way bytes come in: the upload limits (shared/limits) and ENCRYPTION_REQUIRED.
_ADMISSION: dict[int, tuple[str, type[BaseModel] | None]] = {
    429: ("An upload limit was reached (RATE_LIMIT_EXCEEDED: the user's uploads in progress "
          "or per minute, the instance's memory); retry after Retry-After seconds", None),
    503: ("ENCRYPTION_REQUIRED and no encryption key configured: nothing is stored", None)}

_TUS = "/api/v1/storage/upload/tus"
_TUS_VERSION = ("Tus-Resumable", True, "1.0.0")
_TUS_ERRORS: dict[int, tuple[str, type[BaseModel] | None]] = {
    404: ("Unknown upload, another user's, or terminated", None),
    410: ("Expired, or ended by a refusal (UPLOAD_SESSION_EXPIRED)", None),
    412: ("Unsupported Tus-Resumable version", None)}
RESUMABLE_OPERATIONS = [
    Operation("post", "/api/v1/storage/upload/resumable/init",
              "Start a resumable upload (the chunk protocol)",
              {201: ("Session created, quota reserved", ResumableInitResponse),
               409: ("checksum_sha256 names bytes the caller already has", None),
               413: ("Over MAX_RESUMABLE_FILE_SIZE or the quota", None),
               415: ("Declared type not allowed", None), 422: ("Invalid body", None),
               **_ADMISSION},
              body=ResumableInit,
              description="Refuses before any byte: size, declared type, quota (reserved "
                          "until the session completes, is refused or expires) and a known "
                          "SHA-256. The service grants chunk_size (a multiple of the 64 KiB "
                          "encryption frame within its bounds; chunk_size_adjusted says "
                          "when it differs). Chunk indices run from 1 to total_chunks."),
    Operation("put", "/api/v1/storage/upload/resumable/chunk",
              "Send one chunk (any order, any instance)",
              {200: ("Chunk held (also when the same bytes were held already); the last "
                     "one completes the file", ChunkResponse),
               400: ("Missing headers, index outside 1..total_chunks, wrong size", None),
               404: ("Unknown session or another user's", None),
               409: ("Different bytes are held at this index (CHUNK_CONFLICT), or the "
                     "completed file duplicates one of the caller's", None),
               410: ("Session expired or ended (UPLOAD_SESSION_EXPIRED)", None),
               415: ("Chunk 1's bytes are not an allowed type: the session ends", None),
               422: ("X-Chunk-Checksum differs (the chunk is not kept), or the file's "
                     "SHA-256 differs from checksum_sha256", None), 429: _ADMISSION[429]},
              headers=(("X-Upload-Session", True, "session_id from init"),
                       ("X-Chunk-Index", True, "1..total_chunks"),
                       ("X-Chunk-Checksum", False, "MD5 hex of the chunk's bytes")),
              raw_body="application/octet-stream"),
    Operation("get", "/api/v1/storage/upload/resumable/{session_id}",
              "Which chunks the service holds, what is missing, progress and expiry",
              {200: ("The session", SessionStatusResponse), 404: ("Unknown session", None),
               410: ("Expired or ended", None)}, path_params=("session_id",)),
    Operation("options", _TUS, "tus discovery: Tus-Version, Tus-Extension, Tus-Max-Size, "
              "Tus-Checksum-Algorithm (and the CORS preflight)",
              {204: ("Capabilities in the headers", None)}, auth=False),
    Operation("post", _TUS, "tus creation (creation-with-upload: a body of "
              "application/offset+octet-stream is written at offset 0)",
              {201: ("Location of the upload; Upload-Expires; Upload-Offset", None),
               409: ("checksum_sha256 metadata names bytes the caller has", None),
               413: ("Upload-Length over Tus-Max-Size, or the quota", None),
               415: ("filetype not allowed", None), **_ADMISSION},
              headers=(_TUS_VERSION, ("Upload-Length", True, "bytes"),
                       ("Upload-Metadata", False, "filename, filetype, project_id, "
                        "description, tags (comma-separated), is_public, checksum_sha256"),
                       ("Upload-Checksum", False, "md5|sha1|sha256 base64, of the body")),
              raw_body="application/offset+octet-stream"),
    Operation("head", _TUS + "/{upload_id}", "tus: the upload's offset",
              {200: ("Upload-Offset, Upload-Length, Upload-Expires; X-File-Id", None),
               **_TUS_ERRORS}, headers=(_TUS_VERSION,), path_params=("upload_id",)),
    Operation("patch", _TUS + "/{upload_id}", "tus: bytes at Upload-Offset",
              {204: ("Written; the new Upload-Offset (the last bytes complete the file)", None),
               409: ("Upload-Offset differs from the upload's", None),
               413: ("The body goes past Upload-Length", None),
               415: ("Not application/offset+octet-stream, or the first bytes are not an "
                     "allowed type (the upload ends)", None),
               423: ("Another request is writing to this upload", None),
               460: ("Upload-Checksum differs: nothing of the body is kept", None),
               429: _ADMISSION[429], **_TUS_ERRORS},
              headers=(_TUS_VERSION, ("Upload-Offset", True, "the upload's current offset"),
                       ("Upload-Checksum", False, "md5|sha1|sha256 base64, of the body")),
              raw_body="application/offset+octet-stream", path_params=("upload_id",)),
    Operation("options", _TUS + "/{upload_id}", "tus discovery (and the CORS preflight)",
              {204: ("Capabilities in the headers", None)}, auth=False,
              path_params=("upload_id",)),
    Operation("post", _TUS + "/{upload_id}", "PATCH or DELETE for clients that can only "
              "POST (X-HTTP-Method-Override)",
              {204: ("As the overridden method", None), 405: ("No override", None),
               **_TUS_ERRORS},
              headers=(_TUS_VERSION, ("X-HTTP-Method-Override", True, "PATCH or DELETE")),
              raw_body="application/offset+octet-stream", path_params=("upload_id",)),
    Operation("delete", _TUS + "/{upload_id}", "tus termination: the upload ends, its quota "
              "is released", {204: ("Terminated", None), **_TUS_ERRORS},
              headers=(_TUS_VERSION,), path_params=("upload_id",)),
]
_LISTING = (
    "Ordered by `sort` then id. Pages: `page` (offset; slower the deeper it goes) or"
    " `cursor` (keyset: pass `pagination.next_cursor`; as fast on any page, and stable while"
    " files are added or removed; the same sort, order, trashed and filters are required,"
    " and page must stay 1; an opaque string of at most 2048 characters, refused with 400"
    " VALIDATION_ERROR on field `cursor` when it does not decode or belongs to another"
    " listing). `pagination.total` is exact for listings without project_id, file_type or"
    " search, and for filtered ones up to 1,000 files (or when the page shows the end);"
    " beyond, it is the database's estimate and `pagination.total_is_estimate` is true."
    " `search`: a case-insensitive substring of the name, the description or the tags"
    " (joined by spaces), `%` and `_` taken literally.")
OPERATIONS = [
    Operation("get", "/health", "Health of the service and its dependencies",
              {200: ("UP or DEGRADED", None), 503: ("A required dependency is down", None)},
              auth=False),
    Operation("post", "/api/v1/storage/upload", "Upload a file (multipart/form-data)",
              {201: ("Stored", UploadResponse),
               400: ("Malformed multipart (boundary over 256 characters, more than 16 parts, "
                     "over 64 KiB in parts other than file and metadata, no file part)",
                     None),
               408: ("No bytes arrived for UPLOAD_IDLE_TIMEOUT_SECONDS (UPLOAD_TIMEOUT)",
                     None),
               409: ("Same bytes already stored", None),
               413: ("Too large or quota exceeded", None), 415: ("Type not allowed", None),
               422: ("Checksum mismatch or invalid metadata", None), **_ADMISSION},
              body=UploadMetadata, multipart=True,
              headers=(("X-File-Checksum", False, "MD5 hex of the file's bytes: 422 "
                        "CHECKSUM_MISMATCH when they differ"),),
              description="The token is checked before any byte of the body is read; a "
                          "refused upload's body is read at most 4 MiB further (then the "
                          "connection is closed). The metadata part (at most 64 KiB of "
                          "JSON): booleans are JSON booleans, expires_at an RFC 3339 date "
                          "in the future; no text may hold U+0000."),
    Operation("get", "/api/v1/storage/files", "List the caller's files",
              {200: ("A page of files", FileListResponse),
               400: ("Invalid parameters, or a cursor that is not one of this listing", None)},
              query=ListQuery, description=_LISTING),
    Operation("get", "/api/v1/storage/files/{file_id}", "A file's details",
              {200: ("The file", FileDetailResponse)}, path_params=_FILE_ID),
    Operation("put", "/api/v1/storage/files/{file_id}", "Update a file's metadata",
              {200: ("Updated", FileUpdateResponse),
               400: ("Not JSON, over 64 KiB, or nested deeper than 32", None),
               422: ("Invalid fields, a past expires_at, or U+0000 in a text", None)},
              body=FileUpdate, path_params=_FILE_ID, body_required=False,
              description="Absent fields are left as they are; an empty body changes "
                          "nothing. null empties project_id, expires_at, description, tags "
                          "and custom_fields, and leaves original_name and is_public as "
                          "they are."),
    Operation("delete", "/api/v1/storage/files/{file_id}",
              "Move a file to the trash, or delete it for good with permanent=true",
              {200: ("Deleted", DeleteResponse)}, query=DeleteQuery, path_params=_FILE_ID),
    Operation("post", "/api/v1/storage/files/{file_id}/restore", "Restore a file from the trash",
              {200: ("Restored", RestoreResponse), 410: ("Recovery deadline passed", None)},
              path_params=_FILE_ID),
    Operation("get", "/api/v1/storage/download/{file_id}",
              "Download: 302 to a short-lived signed URL (encrypted files, PDFs and active "
              "types are streamed, the latter with Content-Security-Policy: sandbox)",
              {302: ("Redirect to the bytes", None),
               200: ("The bytes, streamed by the service", None),
               202: _REHYDRATING},
              query=DownloadQuery, auth=False, path_params=_FILE_ID),
    Operation("get", "/api/v1/storage/stream/{file_id}",
              "Stream a file with RFC 9110 ranges (also HEAD)",
              {200: ("The whole file", None), 206: ("The requested range(s)", None),
               202: _REHYDRATING, 304: ("Not modified", None),
               412: ("If-Match or If-Unmodified-Since did not hold", None),
               416: ("Range not satisfiable", None)},
              query=StreamQuery, auth=False, path_params=_FILE_ID, headers=_RANGE_HEADERS),
    Operation("head", "/api/v1/storage/stream/{file_id}",
              "The headers a GET of /stream would send, without the body",
              {200: ("Whole file headers", None), 206: ("Range headers", None),
               304: ("Not modified", None)}, query=StreamQuery, auth=False,
              path_params=_FILE_ID, headers=_RANGE_HEADERS),
    *(op for kind, what in (("files", "A public file"), ("thumbnails", "A public file's thumbnail"),
                            ("previews", "A public file's preview"))
      for op in _edge_operations(kind, what)),
    Operation("post", "/api/v1/storage/cdn/purge",
              "Purge files' CDN URLs (owner or admin); carried out by a queue worker",
              {202: ("Recorded and queued; status per provider", PurgeResponse),
               404: ("A file the caller may not see", None)}, body=PurgeBody),
    Operation("get", "/api/v1/storage/cdn/purge/{purge_id}",
              "A purge's progress per provider (CDN_SYNC_FAILED when one failed)",
              {200: ("The purge", PurgeResponse)}, path_params=("purge_id",)),
    Operation("post", "/api/v1/storage/transform",
              "Transform a file (owner or admin); the output is a new file of the same owner",
              {202: ("Recorded and queued", TransformAccepted),
               400: ("Unknown type, invalid parameter or inapplicable source (details.field)",
                     None),
               403: ("An advanced type (video_*, ocr) for the role user (details.required_role)",
                     None),
               404: ("A source the caller may not see", None)}, body=TransformRequest,
              description="Types: image_resize, image_format_conversion, image_compression, "
                          "text_extraction, thumbnail_generation (every role); video_resize, "
                          "video_format_conversion, video_bitrate_adjustment, ocr (premium, "
                          "admin). Parameters per type: see the README."),
    Operation("get", "/api/v1/storage/transform/{transform_id}",
              "A transformation's status: queued, processing, completed (output_file) or "
              "failed (error_code, error_message)",
              {200: ("The transformation", TransformStatus),
               404: ("Not the caller's transformation", None)},
              path_params=("transform_id",)),
    Operation("get", "/api/v1/storage/cdn/stats",
              "What the CDN served: the caller's files (an admin: all), or one file",
              {200: ("Statistics", StatsResponse), 502: ("Every provider failed", None)},
              query=StatsQuery),
    Operation("post", "/api/v1/storage/admin/reconciliation",
              "Admin: reconcile the stores with the tables now; the report",
              {200: ("The report", None), 403: ("Not an admin", None)}),
    Operation("get", "/api/v1/storage/admin/reconciliation",
              "Admin: the last reconciliation's report",
              {200: ("The report", None), 404: ("None has run yet", None)}),
    Operation("get", "/api/v1/openapi.json", "This document", {200: ("OpenAPI 3.1", None)},
              auth=False),
    *RESUMABLE_OPERATIONS,
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
               "schema": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}}
              for p in op.path_params]
    if op.query:
        params += _query_parameters(op.query)
    params += [{"name": name, "in": "header", "required": required, "description": text,
                "schema": {"type": "string"}} for name, required, text in op.headers]
    params.append({"name": "X-Request-ID", "in": "header", "required": False,
                   "schema": {"type": "string"}})
    responses: dict[str, Any] = {}
    head = op.method == "head"  # a HEAD answer has headers only, errors included
    for status, (description, model) in op.responses.items():
        entry: dict[str, Any] = {"description": description}
        if model is not None and not head:
            entry["content"] = {"application/json": {"schema": {"$ref": REF.format(
                model=model.__name__)}}}
        responses[str(status)] = entry
    responses["default"] = {"description": "Error (its headers only, for HEAD)"} if head else {
        "description": "Error", "content": {"application/json": {
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
            doc["requestBody"] = {"required": op.body_required,
                                  "content": {"application/json": {"schema": ref}}}
    if op.raw_body is not None:
        doc["requestBody"] = {"required": False, "content": {op.raw_body: {
            "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}}
    if op.description:
        doc["description"] = op.description
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
