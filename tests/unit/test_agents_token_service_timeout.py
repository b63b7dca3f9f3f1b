"""The Agents SDK adapter's per-turn token-service client gives up after OUTBOUND_TIMEOUT_SECONDS.

The SDK 1.9.0 opens that client's session with aiohttp's default timeout (300 s): a token service that accepts the
connection and never answers would hold an approver's click for five minutes. The conversation turns the error into
"sign-in is unavailable" (tests/integration/test_sign_in_fallback.py); here the client itself must raise, not hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from microsoft_agents.hosting.core.authorization import ClaimsIdentity

from bot.adapters.agents.connector import ChannelClients, Connector


@pytest.fixture
async def stalled_token_service() -> AsyncIterator[str]:
    """A token service that accepts connections, reads the request and never answers."""
    held: list[asyncio.StreamWriter] = []
    never = asyncio.Event()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await never.wait()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    never.set()
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.mark.timeout(30)  # without the outbound timeout this call waits aiohttp's 300 s: the test fails here instead
async def test_a_stalled_token_service_is_a_timeout_error_not_a_hang(stalled_token_service: str) -> None:
    clients = ChannelClients(
        Connector(None, timeout=0.5),
        None,
        token_service_endpoint=stalled_token_service,
        token_service_audience="https://api.botframework.com",
    )
    identity = ClaimsIdentity({"aud": "bot-app-id"})
    client = await clients.create_user_token_client(None, identity, use_anonymous=True)
    try:
        with pytest.raises(asyncio.TimeoutError):
            await client.get_user_token("29:someone", "sso", "msteams", "123456")
    finally:
        await client.close()
