"""Helpers for async resources that belong to one event loop.

aiohttp sessions and psycopg async pools are bound to the loop that created them. The
Functions worker keeps one loop, but tests and CLIs may run several in turn, so such
resources are cached per running loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_registry: weakref.WeakSet[LoopLocal] = weakref.WeakSet()


class LoopLocal(Generic[T]):
    """One lazily created instance of a resource per running event loop."""

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        _registry.add(self)
        self._factory = factory
        self._instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> T:
        loop = asyncio.get_running_loop()
        instance = self._instances.get(loop)
        if instance is not None:
            return instance
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if loop not in self._instances:
                self._instances[loop] = await self._factory()
            return self._instances[loop]

    def forget(self) -> T | None:
        """Drop the current loop's instance (the caller closes it)."""
        return self._instances.pop(asyncio.get_running_loop(), None)

    async def close(self) -> None:
        """Close and drop the current loop's instance, if any (its ``close`` is awaited)."""
        instance = self.forget()
        if instance is not None:
            await instance.close()  # type: ignore[attr-defined]


async def close_loop_resources() -> None:
    """Close every loop-bound resource of the running loop (before a short-lived loop ends:
    a CLI, or a test calling a function object with ``asyncio.run``)."""
    for resource in list(_registry):
        await resource.close()


class SharedRun(Generic[T]):
    """Concurrent callers share one run of ``factory`` (per event loop): a burst of requests
    makes one probe or one fetch, not one each. A call after the run has ended starts a new
    one. A caller that is cancelled (its client went away) does not cancel the run."""

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        self._factory = factory
        self._runs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[T]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        run = self._runs.get(loop)
        if run is None:
            run = asyncio.ensure_future(self._factory())
            self._runs[loop] = run
            run.add_done_callback(self._ended)
        return await asyncio.shield(run)

    def _ended(self, run: asyncio.Future[T]) -> None:
        loop = run.get_loop()
        if self._runs.get(loop) is run:
            del self._runs[loop]
        if not run.cancelled():
            run.exception()  # retrieved here too: every waiter may have been cancelled


async def idle_bounded(body: AsyncIterator[bytes], seconds: float,
                       on_idle: Callable[[], Exception]) -> AsyncIterator[bytes]:
    """``body``'s chunks, raising ``on_idle()`` when none arrives for ``seconds``."""
    iterator = aiter(body)
    while True:
        try:
            chunk = await asyncio.wait_for(anext(iterator), seconds)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise on_idle() from None
        yield chunk


# A blob trigger may see an object a moment before the row its upload commits just after:
# how long (in steps) a trigger looks for the row again before taking the object for not ours.
ROW_WAIT_SECONDS = (0.2, 0.5, 1.0, 2.0)


async def found_soon(fetch: Callable[[], Awaitable[T | None]],
                     delays: tuple[float, ...] = ROW_WAIT_SECONDS) -> T | None:
    """``fetch()``, asked again after each delay while it finds nothing."""
    found = await fetch()
    for delay in delays:
        if found is not None:
            break
        await asyncio.sleep(delay)
        found = await fetch()
    return found
