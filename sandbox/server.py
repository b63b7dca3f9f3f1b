"""Run aiohttp applications on their own event loop in a background thread.

The simulators live on a loop of their own so that blocking clients (msal uses `requests`) can
call them from any thread, including the bot's event loop, without deadlocking.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


class ServerThread:
    """A thread with an event loop serving any number of aiohttp apps on loopback ports."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._runners: list[web.AppRunner] = []
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run a coroutine function on the server loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(_invoke(fn), self.loop)
        return future.result(timeout)

    def serve(self, app: web.Application, host: str = "127.0.0.1", port: int = 0, ssl_context: ssl.SSLContext | None = None) -> int:
        """Start `app` and return the bound port (0 picks a free one)."""

        async def start() -> int:
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            try:
                await site.start()
            except OSError:  # the port is taken: nothing of this app is left running
                await runner.cleanup()
                raise
            self._runners.append(runner)
            return int(runner.addresses[-1][1])

        return self.call(start)

    def stop(self) -> None:
        """Clean up every app, then stop the loop and join the thread."""

        async def cleanup() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()

        if self._thread.is_alive():
            self.call(cleanup)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()


async def _invoke(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()
