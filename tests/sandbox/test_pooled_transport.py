"""The bot's azure-core clients reach Azure over HTTPS with the CA bundle of SSL_CERT_FILE: the pooled transport builds
its TLS context once and keeps its connection, where azure-core's own builds a context (and so opens a connection)
per request (bot/adapters/azure/transport.py; docs/benchmarks.md, memory)."""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from azure.core import AsyncPipelineClient
from azure.core.pipeline.transport import AioHttpTransport
from azure.core.rest import HttpRequest

from bot.adapters.azure.transport import PooledTransport
from sandbox import Sandbox


async def _contexts_for(sandbox: Sandbox, transport: Any, monkeypatch: pytest.MonkeyPatch, requests: int) -> int:
    """TLS contexts the transport loads the CA bundle into over `requests` calls (counted, then let through)."""
    loads: list[str] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append("context")
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    async with AsyncPipelineClient(sandbox.arm.base_url, transport=transport) as client:
        for _ in range(requests):
            response = await client.send_request(HttpRequest("GET", f"{sandbox.arm.base_url}/subscriptions?api-version=2022-12-01"))
            assert response.status_code == 401  # no token: ARM's answer, over a verified TLS connection
    return len(loads)


async def test_the_pooled_transport_builds_one_tls_context_for_many_requests(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = str(sandbox.tls.ca_path)
    assert await _contexts_for(sandbox, PooledTransport(connection_verify=ca), monkeypatch, 10) == 1
    assert await _contexts_for(sandbox, AioHttpTransport(connection_verify=ca), monkeypatch, 10) == 10  # azure-core's
