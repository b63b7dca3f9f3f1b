"""How the Table Storage store reaches Azure: a pooled aiohttp transport, and every call on the store's own loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, Protocol, TypeVar, cast

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

T = TypeVar("T")
P = ParamSpec("P")
IDLE_CONNECTION_SECONDS = 4.0  # below the 5 s after which Node's HTTP server (Azurite) drops an idle connection


class _PooledTransport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, with the TLS context built once instead of on every request.

    Given `connection_verify` (a CA bundle: SSL_CERT_FILE), azure-core 1.x builds a new SSLContext per request
    (reading the bundle each time) and aiohttp, whose connection pool is keyed by that context, then opens a new
    connection for every request: measured in `make bench` (docs/benchmarks.md, Profile), a third of an Approve
    click's time on Table Storage."""

    _ssl: tuple[Any, Any] | None = None

    async def open(self) -> None:
        # Keep idle connections for less time than the service does: a server that closes an idle connection just
        # as a request goes out on it fails that request, and azure-core does not retry non-idempotent ones (POST
        # inserts, entity-group batches, MERGE). Node's HTTP server, Azurite's, closes them after 5 s; aiohttp's
        # default keeps them 15 s. Reconnecting after an idle moment costs one handshake.
        if self.session is None and self._session_owner:  # type: ignore[has-type]
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS),
                trust_env=self._use_env_settings,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()

    def _build_ssl_config(self, cert: Any, verify: Any) -> Any:
        if self._ssl is None or self._ssl[0] != (cert, verify):
            self._ssl = ((cert, verify), super()._build_ssl_config(cert, verify))
        return self._ssl[1]


def pooled(client: dict[str, Any]) -> dict[str, Any]:
    """azure-core client options with a CA bundle carried by a transport that keeps its connections."""
    if "connection_verify" in client and "transport" not in client:
        client = {**client, "transport": _PooledTransport(connection_verify=client["connection_verify"])}
    return client


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
