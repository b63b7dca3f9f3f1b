"""azure-core's aiohttp transport for the bot's Azure clients (Table Storage, the alert queue; ARM's too), with the
TLS context built once.

Given `connection_verify` (a CA bundle: SSL_CERT_FILE), azure-core 1.x builds a new SSLContext per request (reading
the bundle each time), and aiohttp, whose connection pool is keyed by that context, then opens a new connection for
every request: a TCP and TLS handshake each time, and per-connection OpenSSL state and asyncio's 256 KiB read buffer
that the process keeps once freed (docs/benchmarks.md: a third of an Approve click on Table Storage; with ARM's
clients built the same way, about half of the bench's resident memory).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

IDLE_CONNECTION_SECONDS = 4.0  # below the 5 s after which Node's HTTP server (Azurite) drops an idle connection


class PooledTransport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, with the TLS context built once instead of on every request (the module's
    docstring)."""

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
        client = {**client, "transport": PooledTransport(connection_verify=client["connection_verify"])}
    return client
