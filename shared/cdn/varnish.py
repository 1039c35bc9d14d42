"""The local edge: Debian's Varnish in front of the devhost (devhost/varnish.py starts it).

Purges are real (``PURGE`` requests, which its VCL accepts from loopback only); statistics
are counted from its own request log, which ``varnishncsa`` writes as one JSON object per line
(``LOG_FORMAT``); hit ratio and cache size come from ``varnishstat``. Varnish knows no client
country: every request counts as ``unknown``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from shared.cdn.base import CdnError, EdgeRow, parse_edge_path, url_path

# What varnishncsa writes per request (-F): epoch seconds, method, path, status, body bytes
# sent, and whether the cache had it. Parsed back by _records below.
LOG_FORMAT = ('{"t":%{%s}t,"m":"%m","p":"%U","s":%s,"b":%{VSL:ReqAcct[5]}x,'
              '"h":"%{Varnish:hitmiss}x"}')
HEALTH_PATH = "/.edge/health"  # answered by the VCL itself
_TIMEOUT = httpx.Timeout(5.0)
_PURGES_AT_ONCE = 8


class VarnishEdge:
    name = "varnish"

    def __init__(self, url: str, log_path: str, workdir: str = "") -> None:
        self.url = url.rstrip("/")
        self.log_path = Path(log_path) if log_path else None
        self.workdir = workdir

    async def purge(self, urls: Sequence[str]) -> int:
        paths = sorted({url_path(url) for url in urls})
        limit = asyncio.Semaphore(_PURGES_AT_ONCE)
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=_TIMEOUT) as client:

                async def one(path: str) -> None:
                    async with limit:
                        response = await client.request("PURGE", path)
                    if response.status_code != 200:
                        raise CdnError(f"PURGE {path}: {response.status_code}")

                await asyncio.gather(*(one(path) for path in paths))
        except httpx.HTTPError as exc:
            raise CdnError(f"varnish unreachable: {exc}") from exc
        return len(paths)

    async def stats(self, since: datetime, until: datetime,
                    paths: Sequence[str] | None = None) -> list[EdgeRow]:
        if self.log_path is None:
            raise CdnError("VARNISH_LOG_PATH is not set")
        wanted = set(paths) if paths is not None else None
        return await asyncio.to_thread(self._count, since.timestamp(), until.timestamp(),
                                       wanted)

    def _count(self, since: float, until: float, wanted: set[str] | None) -> list[EdgeRow]:
        requests: Counter[str] = Counter()
        hits: Counter[str] = Counter()
        sent: Counter[str] = Counter()
        for record in self._records():
            path = str(record.get("p", ""))
            if not since <= record.get("t", 0) < until or record.get("m") not in {"GET", "HEAD"}:
                continue
            if parse_edge_path(path) is None or (wanted is not None and path not in wanted):
                continue
            requests[path] += 1
            hits[path] += record.get("h") == "hit"
            sent[path] += int(record.get("b") or 0)
        return [EdgeRow(path, "unknown", count, hits[path], sent[path])
                for path, count in requests.items()]

    def _records(self) -> Iterator[dict[str, Any]]:
        assert self.log_path is not None
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                for line in log:  # one request a line: memory stays one line
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a client's path broke the line: not an edge path anyway
                    if isinstance(record, dict):
                        yield record
        except FileNotFoundError:
            return  # nothing served yet

    async def probe(self) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.url, timeout=_TIMEOUT) as client:
            response = await client.get(HEALTH_PATH)
        if response.status_code != 200:
            raise CdnError(f"varnish answered {response.status_code}")
        return await self._counters()

    async def _counters(self) -> dict[str, Any]:
        """Hit ratio and bytes in the cache, from varnishstat (when it and the instance's
        working directory are known)."""
        program = shutil.which("varnishstat")
        if not (program and self.workdir):
            return {}
        process = await asyncio.create_subprocess_exec(
            program, "-j", "-1", "-n", self.workdir, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        output, _ = await process.communicate()
        if process.returncode != 0:
            return {}
        counters = json.loads(output).get("counters", {})

        def value(name: str) -> int:
            return int(counters.get(name, {}).get("value", 0))

        hit, miss = value("MAIN.cache_hit"), value("MAIN.cache_miss")
        return {"hit_ratio": hit / (hit + miss) if hit + miss else None,
                "cache_size_bytes": value("SMA.s0.g_bytes")}
