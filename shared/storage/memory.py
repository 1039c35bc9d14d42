"""An object store in memory, with the same contract as Azure Blob and S3.

For unit tests and local experiments: staged writes become visible only on ``commit``,
``abort`` leaves nothing (and removes an object it had committed, as the real writers do),
ranged reads, ``info``, idempotent ``delete``, and a ``memory://`` signed URL that carries
the expiry and the response headers the way a SAS does. ``pending`` counts writers that
were neither committed nor aborted, so a test can tell that nothing was left half-written.

Tiers as Azure has them: an archived object cannot be read; leaving the archive completes at
once unless ``slow_rehydration`` is set, in which case it stays pending (as in the cloud)
until ``finish_rehydration`` is called.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from shared.storage.base import ListedObject, ObjectArchived, ObjectInfo, ObjectNotFound, Tier

_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class _Object:
    data: bytes
    info: ObjectInfo


class MemoryWriter:
    def __init__(self, store: MemoryStore, key: str) -> None:
        self._store = store
        self._key = key
        self._pieces: list[bytes] = []
        self._state = "open"  # open -> committed | aborted
        store.pending += 1

    async def write(self, data: bytes) -> None:
        if self._state != "open":
            raise RuntimeError(f"writer for {self._key!r} is {self._state}")
        self._pieces.append(bytes(data))

    async def commit(self, *, content_type: str, content_md5: bytes | None = None,
                     metadata: dict[str, str] | None = None) -> ObjectInfo:
        if self._state != "open":
            raise RuntimeError(f"writer for {self._key!r} is {self._state}")
        data = b"".join(self._pieces)
        self._pieces = []
        info = ObjectInfo(size=len(data), etag=hashlib.md5(data, usedforsecurity=False).hexdigest(),
                          last_modified=self._store.clock(), content_type=content_type,
                          tier="hot", metadata=dict(metadata or {}))
        self._store.objects[self._key] = _Object(data, info)
        self._finish("committed")
        return info

    async def abort(self) -> None:
        if self._state == "committed":
            self._store.objects.pop(self._key, None)
        self._pieces = []
        self._finish("aborted")

    def _finish(self, state: str) -> None:
        if self._state == "open":
            self._store.pending -= 1
        self._state = state


class MemoryStore:
    def __init__(self, name: str = "memory", container: str = "files",
                 clock: Callable[[], datetime] | None = None) -> None:
        self._name = name
        self.clock = clock or (lambda: datetime.now(UTC))  # stamps last_modified
        self.container = container
        self.objects: dict[str, _Object] = {}
        self.pending = 0
        self.ensured = False
        self.slow_rehydration = False
        self._rehydrating: dict[str, Tier] = {}  # key -> the tier it is on its way to
        self.staged: dict[str, dict[str, bytes]] = {}  # key -> block reference -> bytes
        self._refs = itertools.count(1)
        self._committed_blocks: dict[str, dict[str, bytes]] = {}
        self.min_block_size = 1

    @property
    def name(self) -> str:
        return self._name

    async def ensure(self) -> None:
        self.ensured = True

    async def writer(self, key: str) -> MemoryWriter:
        return MemoryWriter(self, key)

    async def begin_blocks(self, key: str, *, content_type: str) -> str:
        self.staged.setdefault(key, {})
        return ""

    async def stage_block(self, key: str, handle: str, number: int, data: bytes,
                          md5: bytes) -> str:
        if hashlib.md5(data, usedforsecurity=False).digest() != md5:
            raise ValueError("the block's MD5 does not match its bytes")
        ref = f"{number:010d}-{next(self._refs):010d}"
        self.staged.setdefault(key, {})[ref] = bytes(data)
        return ref

    async def commit_blocks(self, key: str, handle: str, refs: list[str], *,
                            content_type: str, content_md5: bytes | None = None,
                            metadata: dict[str, str] | None = None) -> ObjectInfo:
        # As Azure: a reference names a staged block, or one of the committed object's.
        blocks = {**self._committed_blocks.get(key, {}), **self.staged.get(key, {})}
        missing = [ref for ref in refs if ref not in blocks]
        if missing:
            raise ValueError(f"blocks never staged: {missing}")
        writer = MemoryWriter(self, key)
        for ref in refs:
            await writer.write(blocks[ref])
        info = await writer.commit(content_type=content_type, content_md5=content_md5,
                                   metadata=metadata)
        self._committed_blocks[key] = {ref: blocks[ref] for ref in refs}
        self.staged.pop(key, None)  # uncommitted blocks go with the commit
        return info

    async def abort_blocks(self, key: str, handle: str) -> None:
        self.staged.pop(key, None)

    async def read(self, key: str, offset: int = 0, length: int | None = None
                   ) -> AsyncIterator[bytes]:
        found = self.objects.get(key)
        if found is None:
            raise ObjectNotFound(key)
        if found.info.tier == "archive":
            raise ObjectArchived(key)
        end = len(found.data) if length is None else min(offset + length, len(found.data))
        for start in range(offset, end, _READ_CHUNK):
            yield found.data[start:min(start + _READ_CHUNK, end)]

    async def info(self, key: str) -> ObjectInfo | None:
        found = self.objects.get(key)
        return found.info if found else None

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)
        self._rehydrating.pop(key, None)
        self._committed_blocks.pop(key, None)

    async def set_tier(self, key: str, tier: Tier) -> None:
        found = self.objects.get(key)
        if found is None:
            raise ObjectNotFound(key)
        if found.info.tier == "archive" and tier != "archive" and self.slow_rehydration:
            self._rehydrating[key] = tier
            self._set_info(key, archive_status="rehydrating")
            return
        self._rehydrating.pop(key, None)
        self._set_info(key, tier=tier, archive_status=None)

    def finish_rehydration(self, key: str) -> None:
        """The cloud's hours-long rehydration, done now."""
        self._set_info(key, tier=self._rehydrating.pop(key), archive_status=None)

    def _set_info(self, key: str, **changes: object) -> None:
        found = self.objects[key]
        self.objects[key] = _Object(found.data, replace(found.info, **changes))  # type: ignore[arg-type]

    async def scan(self, prefix: str = "") -> AsyncIterator[ListedObject]:
        for key in self.keys(prefix):
            found = self.objects[key]
            yield ListedObject(key, len(found.data), found.info.last_modified or self.clock())

    async def signed_url(self, key: str, *, expires_in: int, content_type: str | None = None,
                         content_disposition: str | None = None) -> str | None:
        expiry = datetime.now(UTC) + timedelta(seconds=expires_in)
        params = {"se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), "sp": "r"}
        if content_type:
            params["rsct"] = content_type
        if content_disposition:
            params["rscd"] = content_disposition
        return f"memory://{self.container}/{quote(key)}?{urlencode(params)}"

    async def probe(self) -> dict[str, object]:
        return {"container": self.container, "objects": len(self.objects)}

    def keys(self, prefix: str = "") -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))
