"""AWS S3 (moto's S3 server locally) through boto3: the backup store, and the primary store
when ``PRIMARY_STORAGE=aws_s3``.

boto3 is synchronous, so each call runs in a worker thread. Writes buffer one part at a
time (multipart upload above ``part_size``), so memory stays bounded by the part size; parts
are invisible until the upload completes, and an aborted upload leaves nothing.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from shared.settings import MAX_SAS_SECONDS, Settings
from shared.storage.base import (
    ArchiveStatus,
    ListedObject,
    ObjectArchived,
    ObjectInfo,
    ObjectNotFound,
    Tier,
)

PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB
_READ_CHUNK = 1024 * 1024


# Tiers as S3 storage classes: Standard, Infrequent Access, Glacier Instant Retrieval (read
# at once, cheaper to keep) and Glacier Flexible Retrieval (restored before it can be read).
_CLASSES: dict[Tier, str] = {"hot": "STANDARD", "cool": "STANDARD_IA", "cold": "GLACIER_IR",
                             "archive": "GLACIER"}
_TIERS = {storage_class: tier for tier, storage_class in _CLASSES.items()}
_TIERS["DEEP_ARCHIVE"] = "archive"
# Days a restored copy stays readable; the next read copies it back to STANDARD.
_RESTORE_DAYS = 7


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in {"404", "NoSuchKey", "NotFound"}


def _archive_status(restore: str | None) -> ArchiveStatus | None:
    """From S3's ``x-amz-restore``: 'ongoing-request="true"' while restoring."""
    if not restore:
        return None
    return "rehydrating" if 'ongoing-request="true"' in restore else "restored"


class S3Writer:
    def __init__(self, store: S3Store, key: str, part_size: int = PART_SIZE) -> None:
        self._store = store
        self._key = key
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._committed = False

    async def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self._part_size:
            part = bytes(self._buffer[: self._part_size])
            del self._buffer[: self._part_size]
            await self._upload_part(part)

    async def _upload_part(self, part: bytes) -> None:
        s3, bucket = self._store.client, self._store.bucket
        if self._upload_id is None:
            created = await asyncio.to_thread(
                s3.create_multipart_upload, Bucket=bucket, Key=self._key
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        result = await asyncio.to_thread(
            s3.upload_part, Bucket=bucket, Key=self._key, UploadId=self._upload_id,
            PartNumber=number, Body=part,
        )
        self._parts.append({"PartNumber": number, "ETag": result["ETag"]})

    async def commit(self, *, content_type: str, content_md5: bytes | None = None,
                     metadata: dict[str, str] | None = None) -> ObjectInfo:
        s3, bucket = self._store.client, self._store.bucket
        if self._upload_id is None:
            extra = {"ContentMD5": base64.b64encode(content_md5).decode()} if content_md5 else {}
            result = await asyncio.to_thread(
                s3.put_object, Bucket=bucket, Key=self._key, Body=bytes(self._buffer),
                ContentType=content_type, Metadata=metadata or {}, **extra,
            )
            size = len(self._buffer)
        else:
            if self._buffer:
                await self._upload_part(bytes(self._buffer))
            result = await asyncio.to_thread(
                s3.complete_multipart_upload, Bucket=bucket, Key=self._key,
                UploadId=self._upload_id, MultipartUpload={"Parts": self._parts},
            )
            size = -1
        self._buffer.clear()
        self._committed = True
        return ObjectInfo(size=size, etag=result["ETag"].strip('"'))

    async def abort(self) -> None:
        if self._committed:  # the caller's unit of work failed after the commit
            await self._store.delete(self._key)
        elif self._upload_id is not None:
            await asyncio.to_thread(
                self._store.client.abort_multipart_upload, Bucket=self._store.bucket,
                Key=self._key, UploadId=self._upload_id,
            )
            self._upload_id = None
        self._buffer.clear()


class S3Store:
    name = "aws_s3"
    min_block_size = 5 * 1024 * 1024  # S3's smallest part but the last

    def __init__(self, settings: Settings, bucket: str) -> None:
        self.bucket = bucket
        self._region = settings.aws_region
        self._endpoint = settings.s3_endpoint_url or None
        self._expedited = settings.rehydrate_priority == "High"

    @cached_property
    def client(self) -> Any:
        # Short timeouts: a backup store that is down must fail fast, not hold a worker.
        config = Config(connect_timeout=2, read_timeout=30,
                        retries={"max_attempts": 2, "mode": "standard"})
        return boto3.client("s3", region_name=self._region, endpoint_url=self._endpoint,
                            config=config)

    async def ensure(self) -> None:
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except ClientError:
            extra = {}
            if self._region != "us-east-1":
                extra = {"CreateBucketConfiguration": {"LocationConstraint": self._region}}
            await asyncio.to_thread(self.client.create_bucket, Bucket=self.bucket, **extra)

    async def writer(self, key: str) -> S3Writer:
        return S3Writer(self, key)

    async def begin_blocks(self, key: str, *, content_type: str) -> str:
        created = await asyncio.to_thread(self.client.create_multipart_upload,
                                          Bucket=self.bucket, Key=key, ContentType=content_type)
        return str(created["UploadId"])

    async def stage_block(self, key: str, handle: str, number: int, data: bytes,
                          md5: bytes) -> str:
        # A part staged again under the same number replaces it: the reference keeps the
        # ETag, so completing with a replaced part fails instead of mixing bytes.
        result = await asyncio.to_thread(
            self.client.upload_part, Bucket=self.bucket, Key=key, UploadId=handle,
            PartNumber=number, Body=data, ContentMD5=base64.b64encode(md5).decode())
        return f"{number}:{result['ETag']}"

    async def commit_blocks(self, key: str, handle: str, refs: list[str], *,
                            content_type: str, content_md5: bytes | None = None,
                            metadata: dict[str, str] | None = None) -> ObjectInfo:
        parts = [{"PartNumber": int(number), "ETag": etag}
                 for number, etag in (ref.split(":", 1) for ref in refs)]
        try:
            result = await asyncio.to_thread(
                self.client.complete_multipart_upload, Bucket=self.bucket, Key=key,
                UploadId=handle, MultipartUpload={"Parts": parts})
        except ClientError as exc:  # completed before (a retried completion)?
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise
            info = await self.info(key)
            if info is None:
                raise
            return info
        return ObjectInfo(size=-1, etag=result["ETag"].strip('"'))

    async def abort_blocks(self, key: str, handle: str) -> None:
        try:
            await asyncio.to_thread(self.client.abort_multipart_upload, Bucket=self.bucket,
                                    Key=key, UploadId=handle)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    async def read(self, key: str, offset: int = 0, length: int | None = None
                   ) -> AsyncIterator[bytes]:
        extra = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            extra["Range"] = f"bytes={offset}-{end}"
        try:
            result = await asyncio.to_thread(
                self.client.get_object, Bucket=self.bucket, Key=key, **extra
            )
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFound(key) from exc
            if _code(exc) == "InvalidObjectState":
                raise ObjectArchived(key) from exc
            raise
        body = result["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, _READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def info(self, key: str) -> ObjectInfo | None:
        try:
            head = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        return ObjectInfo(
            size=head["ContentLength"], etag=head["ETag"].strip('"'),
            last_modified=head.get("LastModified"), content_type=head.get("ContentType"),
            metadata=head.get("Metadata", {}),
            tier=_TIERS.get(head.get("StorageClass") or "STANDARD"),
            archive_status=_archive_status(head.get("Restore")),
        )

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    async def set_tier(self, key: str, tier: Tier) -> None:
        """A copy onto itself in the tier's storage class; out of the archive, a restore
        first (the next call, once it is done, copies the restored bytes back)."""
        info = await self.info(key)
        if info is None:
            raise ObjectNotFound(key)
        if info.tier == "archive" and tier != "archive" and info.archive_status != "restored":
            if info.archive_status is None:
                job = {"Tier": "Expedited" if self._expedited else "Standard"}
                await asyncio.to_thread(
                    self.client.restore_object, Bucket=self.bucket, Key=key,
                    RestoreRequest={"Days": _RESTORE_DAYS, "GlacierJobParameters": job})
            return
        if info.tier == tier:
            return  # S3 refuses a copy onto itself that changes nothing
        # The managed copy switches to a multipart copy above 5 GB, as S3 requires.
        await asyncio.to_thread(
            self.client.copy, {"Bucket": self.bucket, "Key": key}, self.bucket, key,
            ExtraArgs={"StorageClass": _CLASSES[tier], "MetadataDirective": "COPY"})

    async def scan(self, prefix: str = "") -> AsyncIterator[ListedObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=prefix))
        while page := await asyncio.to_thread(next, pages, None):
            for item in page.get("Contents", []):
                yield ListedObject(item["Key"], item["Size"], item["LastModified"])

    async def signed_url(self, key: str, *, expires_in: int, content_type: str | None = None,
                         content_disposition: str | None = None) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        return await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params,
            ExpiresIn=min(expires_in, MAX_SAS_SECONDS),
        )

    async def probe(self) -> dict[str, object]:
        await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        return {"bucket": self.bucket}
