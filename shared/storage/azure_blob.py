"""Primary store: Azure Blob Storage (Azurite locally) through azure-storage-blob's aio client.

Uploads are staged blocks committed at the end, so a failed or refused upload leaves no
blob (uncommitted blocks are discarded by the service). SAS URLs are signed with the
account key when there is one (Azurite) and with a user-delegation key otherwise
(managed identity in Azure).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobBlock,
    BlobSasPermissions,
    ContentSettings,
    RehydratePriority,
    UserDelegationKey,
    generate_blob_sas,
)
from azure.storage.blob.aio import BlobClient, BlobServiceClient, ContainerClient

from shared.aio import LoopLocal
from shared.settings import MAX_SAS_SECONDS, STORAGE_CLIENT_RETRIES, Settings
from shared.storage.base import (
    ArchiveStatus,
    ListedObject,
    ObjectArchived,
    ObjectInfo,
    ObjectNotFound,
    Tier,
)

# Blocks being sent while the next one fills: overlaps network writes with reading the
# request body, and bounds an upload's memory (about this much plus one block).
_INFLIGHT_BYTES = 16 * 1024 * 1024
# Downloads arrive in pieces of this size, so reading a large blob holds one piece at a time
# (the SDK's default first GET is 32 MiB).
_READ_PIECE = 4 * 1024 * 1024
_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY")


def _tier(blob_tier: object) -> Tier | None:
    name = str(blob_tier or "").lower()
    return cast(Tier, name) if name in {"hot", "cool", "cold", "archive"} else None


def _archive_status(value: str | None) -> ArchiveStatus | None:
    # "rehydrate-pending-to-hot" (or -cool, -cold) while Azure copies it out of the archive
    return "rehydrating" if value and value.startswith("rehydrate-pending") else None


def _block_id(index: int) -> str:
    return base64.b64encode(f"{index:010d}".encode()).decode()


def _staged_block_id(number: int) -> str:
    # Unique per attempt (every id of a blob has the same length): a block staged again under
    # the same number never replaces the one an earlier request recorded.
    return base64.b64encode(f"{number:010d}-{uuid.uuid4().hex[:16]}".encode()).decode()


async def _stage(blob: BlobClient, block_id: str, block: bytes, md5: bytes) -> None:
    # A transactional MD5 lets the service verify each block as it lands (and spares it
    # computing a CRC64, which Azurite does slowly in JavaScript).
    await blob.stage_block(block_id, block, length=len(block), transactional_content_md5=md5)


class AzureBlobWriter:
    def __init__(self, container: ContainerClient, key: str, block_size: int) -> None:
        self._blob = container.get_blob_client(key)
        self._block_size = block_size
        self._pieces: list[bytes] = []  # joined once per block: one copy per byte
        self._buffered = 0
        self._block_ids: list[str] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._committed = False

    async def write(self, data: bytes) -> None:
        self._pieces.append(data)
        self._buffered += len(data)
        if self._buffered >= self._block_size:
            joined = b"".join(self._pieces)
            cut = len(joined) - len(joined) % self._block_size
            self._pieces = [joined[cut:]] if cut < len(joined) else []
            self._buffered = len(joined) - cut
            if cut == len(joined) == self._block_size:
                await self._stage(joined)
                return
            for start in range(0, cut, self._block_size):
                await self._stage(joined[start:start + self._block_size])

    def _take_rest(self) -> bytes:
        rest = b"".join(self._pieces)
        self._pieces, self._buffered = [], 0
        return rest

    async def _stage(self, block: bytes) -> None:
        while len(self._inflight) >= max(1, _INFLIGHT_BYTES // self._block_size):
            done, _ = await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                self._inflight.discard(task)
                task.result()
        block_id = _block_id(len(self._block_ids))
        self._block_ids.append(block_id)
        self._inflight.add(asyncio.create_task(self._put_block(block_id, block)))

    async def _put_block(self, block_id: str, block: bytes) -> None:
        md5 = await asyncio.to_thread(lambda: hashlib.md5(block, usedforsecurity=False).digest())
        await _stage(self._blob, block_id, block, md5)

    async def _drain(self) -> None:
        if self._inflight:
            tasks, self._inflight = self._inflight, set()
            for result in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result

    async def commit(self, *, content_type: str, content_md5: bytes | None = None,
                     metadata: dict[str, str] | None = None) -> ObjectInfo:
        rest = self._take_rest()
        if rest or not self._block_ids:
            await self._stage(rest)
        await self._drain()
        md5 = bytearray(content_md5) if content_md5 is not None else None
        result = await self._blob.commit_block_list(
            [BlobBlock(block_id) for block_id in self._block_ids],
            content_settings=ContentSettings(content_type=content_type, content_md5=md5),
            metadata=metadata,
            if_none_match="*",  # never overwrite: every key is generated fresh
        )
        self._committed = True
        return ObjectInfo(size=-1, etag=str(result["etag"]),
                          last_modified=cast(datetime, result["last_modified"]))

    async def abort(self) -> None:
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        self._inflight.clear()
        if self._committed:
            with contextlib.suppress(ResourceNotFoundError):
                await self._blob.delete_blob()


class AzureBlobStore:
    name = "azure_blob"
    min_block_size = 1

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.container_name = settings.container_name
        self._conn = settings.primary_connection_string
        self._clients: LoopLocal[BlobServiceClient] = LoopLocal(self._open)
        # Building a client is costly in the SDK (a per-request share of CPU on hot paths).
        self._containers: LoopLocal[ContainerClient] = LoopLocal(self._open_container)
        self._delegation: tuple[datetime, UserDelegationKey] | None = None

    async def _open(self) -> BlobServiceClient:
        sizes: dict[str, Any] = {"max_single_get_size": _READ_PIECE,
                                 "max_chunk_get_size": _READ_PIECE, **STORAGE_CLIENT_RETRIES}
        if not any(os.environ.get(name) for name in _PROXY_VARIABLES):
            # Without a proxy to honour, aiohttp's trust_env only costs a thread hop per
            # request (it looks up ~/.netrc).
            sizes["use_env_settings"] = False
        if self._conn:
            return BlobServiceClient.from_connection_string(self._conn, **sizes)
        from azure.identity.aio import DefaultAzureCredential

        account = self._settings.storage_account
        url = f"https://{account}.blob.core.windows.net"
        if self._settings.storage_key:  # AZURE_STORAGE_KEY: shared key, as the spec lists
            key = {"account_name": account, "account_key": self._settings.storage_key}
            return BlobServiceClient(url, credential=key, **sizes)
        return BlobServiceClient(url, credential=DefaultAzureCredential(), **sizes)

    async def service(self) -> BlobServiceClient:
        return await self._clients.get()

    async def _open_container(self) -> ContainerClient:
        return (await self.service()).get_container_client(self.container_name)

    async def container(self) -> ContainerClient:
        return await self._containers.get()

    async def ensure(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await (await self.container()).create_container()

    async def writer(self, key: str) -> AzureBlobWriter:
        return AzureBlobWriter(await self.container(), key, self._settings.upload_block_size)

    async def begin_blocks(self, key: str, *, content_type: str) -> str:
        return ""

    async def stage_block(self, key: str, handle: str, number: int, data: bytes,
                          md5: bytes) -> str:
        block_id = _staged_block_id(number)
        await _stage((await self.container()).get_blob_client(key), block_id, data, md5)
        return block_id

    async def commit_blocks(self, key: str, handle: str, refs: list[str], *,
                            content_type: str, content_md5: bytes | None = None,
                            metadata: dict[str, str] | None = None) -> ObjectInfo:
        blob = (await self.container()).get_blob_client(key)
        md5 = bytearray(content_md5) if content_md5 is not None else None
        # BlobBlock's default "latest" list finds a block committed before, so committing
        # the same list again (a retried completion) gives the same object.
        result = await blob.commit_block_list(
            [BlobBlock(ref) for ref in refs], metadata=metadata,
            content_settings=ContentSettings(content_type=content_type, content_md5=md5))
        return ObjectInfo(size=-1, etag=str(result["etag"]),
                          last_modified=cast(datetime, result["last_modified"]))

    async def abort_blocks(self, key: str, handle: str) -> None:
        # Azure offers no call that drops uncommitted blocks of a blob that was never
        # committed; it discards them itself a week after the last block was staged.
        return None

    async def read(self, key: str, offset: int = 0, length: int | None = None
                   ) -> AsyncIterator[bytes]:
        blob = (await self.container()).get_blob_client(key)
        # A whole read names no range: the SDK then copes with an empty blob, which
        # answers any explicit range with 416.
        whole = offset == 0 and length is None
        try:
            downloader = await blob.download_blob(offset=None if whole else offset,
                                                  length=length, max_concurrency=1)
        except ResourceNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except HttpResponseError as exc:
            if getattr(exc, "error_code", None) == "BlobArchived":
                raise ObjectArchived(key) from exc
            raise
        async for chunk in downloader.chunks():
            yield chunk

    async def info(self, key: str) -> ObjectInfo | None:
        blob = (await self.container()).get_blob_client(key)
        try:
            props = await blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        return ObjectInfo(
            size=props.size, etag=props.etag, last_modified=props.last_modified,
            content_type=props.content_settings.content_type, tier=_tier(props.blob_tier),
            metadata=dict(props.metadata or {}),
            archive_status=_archive_status(props.archive_status),
        )

    async def delete(self, key: str) -> None:
        blob = (await self.container()).get_blob_client(key)
        with contextlib.suppress(ResourceNotFoundError):
            await blob.delete_blob(delete_snapshots="include")

    async def set_tier(self, key: str, tier: Tier) -> None:
        blob = (await self.container()).get_blob_client(key)
        try:
            await blob.set_standard_blob_tier(
                tier.capitalize(),
                rehydrate_priority=RehydratePriority(self._settings.rehydrate_priority))
        except ResourceNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def scan(self, prefix: str = "") -> AsyncIterator[ListedObject]:
        container = await self.container()
        async for blob in container.list_blobs(name_starts_with=prefix or None):
            yield ListedObject(blob.name, blob.size, blob.last_modified)

    async def signed_url(self, key: str, *, expires_in: int, content_type: str | None = None,
                         content_disposition: str | None = None) -> str | None:
        service = await self.service()
        now = datetime.now(UTC)
        expiry = now + timedelta(seconds=min(expires_in, MAX_SAS_SECONDS))
        account_key = getattr(service.credential, "account_key", None)
        delegation = None if account_key else await self._delegation_key(service, expiry)
        sas = generate_blob_sas(
            account_name=service.account_name or "",
            container_name=self.container_name,
            blob_name=key,
            permission=BlobSasPermissions(read=True),
            start=now - timedelta(minutes=5),  # tolerate clock skew
            expiry=expiry,
            content_type=content_type,
            content_disposition=content_disposition,
            account_key=account_key,
            user_delegation_key=delegation,
            # Azurite speaks plain HTTP; anywhere else the SAS refuses it.
            protocol=None if self._settings.local_development else "https",
        )
        blob_url = (await self.container()).get_blob_client(key).url
        return f"{blob_url}?{sas}"

    async def _delegation_key(self, service: BlobServiceClient, expiry: datetime
                              ) -> UserDelegationKey:
        # One delegation key serves many SAS; renew it well before it runs out.
        if self._delegation and self._delegation[0] > expiry:
            return self._delegation[1]
        now = datetime.now(UTC)
        valid_until = now + timedelta(hours=6)
        key = await service.get_user_delegation_key(now - timedelta(minutes=5), valid_until)
        self._delegation = (valid_until, key)
        return key

    async def probe(self) -> dict[str, object]:
        props = await (await self.container()).get_container_properties()
        return {"container": self.container_name, "last_modified": str(props.last_modified)}
