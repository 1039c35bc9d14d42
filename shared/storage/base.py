"""The one small interface every object store implements (Azure Blob, S3, ...).

Writers stream: bytes are sent in blocks/parts as they arrive and become visible only
on ``commit``; ``abort`` (or never committing) leaves no object behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    last_modified: datetime | None = None
    content_type: str | None = None
    tier: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class ObjectWriter(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def commit(self, *, content_type: str, content_md5: bytes | None = None,
                     metadata: dict[str, str] | None = None) -> ObjectInfo: ...

    async def abort(self) -> None: ...


class ObjectStore(Protocol):
    name: str

    async def writer(self, key: str) -> ObjectWriter: ...

    def read(self, key: str, offset: int = 0, length: int | None = None
             ) -> AsyncIterator[bytes]: ...

    async def info(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> bool: ...

    async def signed_url(self, key: str, *, expires_in: int, content_type: str | None = None,
                         content_disposition: str | None = None) -> str | None: ...

    async def probe(self) -> dict[str, object]: ...


class ObjectNotFound(Exception):
    """The key names no object."""
