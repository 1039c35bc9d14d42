"""Per-user upload limits kept in Redis (``REDIS_URL``), so every instance sees the same
counts. Each decision is one Lua script (atomic on the server, on the server's clock):

- a user's uploads in progress are a sorted set of leases scored by their expiry; expired
  leases (an instance died mid-upload) are dropped before counting, and the set itself
  expires with its last lease;
- a user's new uploads in the current minute are one counter, ``INCR`` then ``PEXPIRE`` on
  the first one (a fixed window that starts with the user's first upload).

Keys carry a hash of the user id in a hash tag (``{...}``): both keys of a user live in one
cluster slot, and no user id, whatever its characters, shapes a key. If Redis cannot be
reached, the instance falls back to its in-process counts (logged) rather than refusing every
upload: the limits then hold per instance until Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from shared.aio import LoopLocal
from shared.limits.base import Refusal
from shared.limits.local import LocalUserLimiter

log = logging.getLogger(__name__)

_NOW = ("local t = redis.call('TIME')\n"
        "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n")

ACQUIRE = _NOW + """
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return {1, 1000}
end
if ARGV[4] ~= '' then
  local count = tonumber(redis.call('GET', KEYS[2]) or '0')
  if count >= tonumber(ARGV[4]) then
    local left = redis.call('PTTL', KEYS[2])
    if left < 0 then
      left = 60000
      redis.call('PEXPIRE', KEYS[2], left)
    end
    return {2, left}
  end
  if redis.call('INCR', KEYS[2]) == 1 then
    redis.call('PEXPIRE', KEYS[2], 60000)
  end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return {0, 0}
"""

RENEW = _NOW + """
local ttl = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return 0
"""


def keys_of(user_id: str) -> tuple[str, str]:
    tag = hashlib.sha256(user_id.encode()).hexdigest()[:32]
    return f"upload-limits:{{{tag}}}:active", f"upload-limits:{{{tag}}}:minute"


@dataclass(frozen=True)
class _Connection:
    """One loop's client and its registered scripts (closed with the loop's resources)."""

    client: Any
    acquire: Any
    renew: Any

    async def close(self) -> None:
        await self.client.aclose()


class RedisUserLimiter:
    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._clients: LoopLocal[_Connection] = LoopLocal(self._open)
        self._fallback = LocalUserLimiter()

    async def _open(self) -> _Connection:
        from redis.asyncio import Redis

        client = Redis.from_url(self._url, socket_timeout=self._timeout,
                                socket_connect_timeout=self._timeout,
                                health_check_interval=30)
        return _Connection(client, client.register_script(ACQUIRE),
                           client.register_script(RENEW))

    async def acquire(self, user_id: str, lease_id: str, *, max_concurrent: int,
                      per_minute: int | None, lease_seconds: float) -> Refusal | None:
        try:
            connection = await self._clients.get()
            verdict, wait_ms = await connection.acquire(keys=list(keys_of(user_id)), args=[
                lease_id, int(lease_seconds * 1000), max_concurrent,
                "" if per_minute is None else per_minute])
        except Exception as exc:  # redis' errors are many; the upload must not fail for it
            log.warning("upload limits: Redis unavailable, counting in-process: %s", exc)
            return await self._fallback.acquire(
                user_id, lease_id, max_concurrent=max_concurrent, per_minute=per_minute,
                lease_seconds=lease_seconds)
        if int(verdict) == 0:
            return None
        retry_after = max(1, -(-int(wait_ms) // 1000))
        if int(verdict) == 1:
            return Refusal("user_concurrent_uploads", max_concurrent, retry_after)
        return Refusal("user_uploads_per_minute", per_minute or 0, retry_after)

    async def renew(self, user_id: str, lease_id: str, lease_seconds: float) -> None:
        try:
            connection = await self._clients.get()
            await connection.renew(keys=[keys_of(user_id)[0]],
                                   args=[lease_id, int(lease_seconds * 1000)])
        except Exception as exc:  # the lease runs out on its own; nothing to undo
            log.warning("upload limits: renewing a lease failed: %s", exc)
        await self._fallback.renew(user_id, lease_id, lease_seconds)

    async def release(self, user_id: str, lease_id: str) -> None:
        try:
            await (await self._clients.get()).client.zrem(keys_of(user_id)[0], lease_id)
        except Exception as exc:  # the lease runs out on its own
            log.warning("upload limits: releasing a lease failed: %s", exc)
        await self._fallback.release(user_id, lease_id)
