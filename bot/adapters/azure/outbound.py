"""One HTTP session for the bot's own calls to Microsoft Graph and Azure Monitor's Alerts Management API.

A session per call opened a new TCP and TLS connection each time (a TLS handshake, and the per-connection OpenSSL
state and read buffers the process then keeps: docs/benchmarks.md); one session keeps a few connections open and
reuses them. It is made on first use, on the event loop that uses it (an aiohttp session belongs to one loop), and
closed with the bot.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp

CONNECTIONS = 8  # at most this many open at once: the bot's calls to Graph and ARM's alerts API are few and short


class OutboundSession:
    """A lazily made aiohttp session with a bounded pool, the CA bundle and a per-request timeout."""

    def __init__(self, ca_bundle: str | None = None, timeout: float = 10.0, trace_configs: list[aiohttp.TraceConfig] | None = None) -> None:
        self._ca_bundle, self._traces = ca_bundle, trace_configs  # aiohttp's request tracing (what it connects, when)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            # a session of another loop (a test's earlier loop) is dropped, not closed: its loop is gone
            context: ssl.SSLContext | bool = ssl.create_default_context(cafile=self._ca_bundle) if self._ca_bundle else True
            connector = aiohttp.TCPConnector(ssl=context, limit=CONNECTIONS)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trace_configs=self._traces)
            self._loop = loop
        return self._session

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """`session.request(...)` on the shared session (an async context manager, as aiohttp's)."""
        return self.get().request(method, url, **kwargs)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
