"""How the Table Storage store reaches Azure: a pooled aiohttp transport (azure/transport.py), and every call on the
store's own loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar, cast

from ...azure.transport import IDLE_CONNECTION_SECONDS, PooledTransport, pooled

__all__ = ["IDLE_CONNECTION_SECONDS", "PooledTransport", "on_its_loop", "pooled"]
T = TypeVar("T")
P = ParamSpec("P")


class _OnALoop(Protocol):
    _loop: asyncio.AbstractEventLoop | None


def on_its_loop(method: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run the call on the store's event loop, whoever calls: its HTTP connections belong to that loop, and
    the store, like SqliteStore, is usable from any thread (the audit CLI, tests, a worker thread)."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        loop, running = cast(_OnALoop, args[0])._loop, asyncio.get_running_loop()
        if loop is None or loop is running or loop.is_closed():
            return await method(*args, **kwargs)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_awaited(method(*args, **kwargs)), loop))

    return call


async def _awaited(work: Awaitable[T]) -> T:
    return await work
