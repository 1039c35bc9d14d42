"""Streaming an object from one store to another (the backup copy, a restore from it),
hashing the bytes on the way: memory stays one chunk, whatever the size. The hashing runs in
a worker thread, so a copy never stalls the requests the instance serves meanwhile."""

from __future__ import annotations

import asyncio
import hashlib

from shared.storage.base import ObjectStore


class CopyChecksumMismatch(Exception):
    """The bytes read differ from the SHA-256 they had to have: nothing was committed."""


async def sha256_of(store: ObjectStore, key: str) -> str:
    digest = hashlib.sha256()
    async for chunk in store.read(key):
        await asyncio.to_thread(digest.update, chunk)
    return digest.hexdigest()


async def copy_object(source: ObjectStore, target: ObjectStore, key: str, *,
                      content_type: str | None, expected_sha256: str | None = None
                      ) -> tuple[str, str]:
    """Copy ``key``; (etag of the copy, SHA-256 of its bytes). With ``expected_sha256``,
    a copy whose bytes differ is aborted before it becomes visible."""
    digest = hashlib.sha256()
    writer = await target.writer(key)
    try:
        async for chunk in source.read(key):
            await asyncio.to_thread(digest.update, chunk)
            await writer.write(chunk)
        if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
            raise CopyChecksumMismatch(key)
        info = await writer.commit(content_type=content_type or "application/octet-stream")
    except BaseException:
        await writer.abort()
        raise
    return info.etag, digest.hexdigest()
