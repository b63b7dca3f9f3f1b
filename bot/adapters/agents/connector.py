"""Bot Connector calls on the Agents SDK's ConnectorClient: the bot's token, a bounded session per service URL,
an outbound timeout, and retries on 429/412/5xx that honour `Retry-After` (the Teams rate-limit guide).

The SDK's ConnectorClient puts a bearer token in its session's headers when it is built, so a client is built
per call over the kept session (the token comes from msal's cache while it is valid).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from microsoft_agents.hosting.core import RestChannelServiceClientFactory
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from .auth import BotMsalAuth

log = logging.getLogger(__name__)
MAX_SESSIONS = 32
# open connections per service URL: the outbox sends 16 at a time and turns read members; aiohttp's default of 100
# let a burst of turns open 50 TLS connections, each leaving its OpenSSL state and asyncio's 256 KiB read buffer to
# the process (docs/benchmarks.md, memory); beyond this many a call waits for a connection to come free
CONNECTIONS = 16


class _SharedSessionClient(TeamsConnectorClient):  # type: ignore[misc]
    """The SDK closes a turn's connector client when the turn ends; the session is ours and stays open."""

    async def close(self) -> None:
        return None


class ChannelClients(RestChannelServiceClientFactory):  # type: ignore[misc]
    """The SDK's client factory, with the turn's connector client over our kept, time-limited sessions and the
    turn's token-service client on a session with the outbound timeout (the SDK 1.9.0 opens it with aiohttp's
    default of 300 s, so a stalled token service would hold the click that long)."""

    def __init__(self, connector: Connector, connections: Any, token_service_endpoint: str, token_service_audience: str) -> None:
        super().__init__(connections, token_service_endpoint=token_service_endpoint, token_service_audience=token_service_audience)
        self._connector = connector

    async def create_connector_client(
        self,
        context: Any,
        claims_identity: Any,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> TeamsConnectorClient:
        return await self._connector.client(service_url, anonymous=use_anonymous)

    async def create_user_token_client(self, context: Any, claims_identity: Any, use_anonymous: bool = False) -> Any:
        # made on first use: most turns (every `help`, every Approve) never call the token service, and making the
        # client costs a token lookup, a session and the SDK's product string on every turn (docs/benchmarks.md)
        return _LazyUserTokenClient(lambda: self._user_token_client(context, claims_identity, use_anonymous))

    async def _user_token_client(self, context: Any, claims_identity: Any, use_anonymous: bool) -> UserTokenClient:
        # the SDK's own token choice (anonymous, agentic, or the connection's token for the token service's audience)
        if use_anonymous:
            token = ""
        elif context.activity.is_agentic_request():
            token = await self._get_agentic_token(context, self._token_service_endpoint)
        else:
            provider = self._connection_manager.get_token_provider(claims_identity, self._token_service_endpoint)
            token = await provider.get_access_token(self._token_service_audience, claims_identity.get_token_scope())
            if not token:
                raise ValueError("no token for the Bot Framework token service")
        endpoint = self._token_service_endpoint.rstrip("/") + "/"
        # a session per turn as the SDK makes it (closed when the turn ends), with our timeout
        session = aiohttp.ClientSession(base_url=endpoint, timeout=aiohttp.ClientTimeout(total=self._connector.timeout))
        return UserTokenClient(endpoint, token, app_id=claims_identity.get_app_id(), session=session)


class _LazyUserTokenClient:
    """The turn's token-service client (the SDK's UserTokenClient), made when the turn first calls it."""

    def __init__(self, make: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._make = make
        self._client: UserTokenClient | None = None
        self._lock = asyncio.Lock()

    async def _get(self) -> UserTokenClient:
        async with self._lock:
            if self._client is None:
                self._client = await self._make()
        return self._client

    async def get_sign_in_resource(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).get_sign_in_resource(*args, **kwargs)

    async def get_user_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).get_user_token(*args, **kwargs)

    async def sign_out_user(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).sign_out_user(*args, **kwargs)

    async def exchange_token(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).exchange_token(*args, **kwargs)

    async def get_token_status(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).get_token_status(*args, **kwargs)

    async def get_aad_tokens(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).get_aad_tokens(*args, **kwargs)

    async def get_token_or_sign_in_resource(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._get()).get_token_or_sign_in_resource(*args, **kwargs)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class Connector:
    def __init__(self, provider: BotMsalAuth | None, timeout: float, attempts: int = 4, limit: int = MAX_SESSIONS) -> None:
        self._provider, self._timeout, self._attempts, self._limit = provider, timeout, attempts, limit
        self._sessions: OrderedDict[str, aiohttp.ClientSession] = OrderedDict()
        # the client last built per service URL, with its token: building one costs milliseconds (the SDK works out
        # its product string on every construction); it is built again when the token or the session changes
        self._clients: dict[str, tuple[str, aiohttp.ClientSession, TeamsConnectorClient]] = {}

    @property
    def timeout(self) -> float:
        """OUTBOUND_TIMEOUT_SECONDS: the limit of every call to the Bot Connector and the token service."""
        return self._timeout

    async def client(self, service_url: str, anonymous: bool = False) -> TeamsConnectorClient:
        endpoint = service_url if service_url.endswith("/") else service_url + "/"
        session = self._sessions.get(endpoint)
        if session is None or session.closed:
            session = self._sessions[endpoint] = aiohttp.ClientSession(
                base_url=endpoint, timeout=aiohttp.ClientTimeout(total=self._timeout), connector=aiohttp.TCPConnector(limit=CONNECTIONS)
            )
            while len(self._sessions) > self._limit:
                gone, evicted = self._sessions.popitem(last=False)
                self._clients.pop(gone, None)
                await evicted.close()
        self._sessions.move_to_end(endpoint)
        # no app id (ANONYMOUS_ALLOWED) or an anonymous turn: no token to send
        token = "" if anonymous or self._provider is None else await self._provider.get_access_token(endpoint, [])
        built = self._clients.get(endpoint)
        if built is not None and built[0] == token and built[1] is session:
            return built[2]
        client = _SharedSessionClient(endpoint, token, session=session)
        self._clients[endpoint] = (token, session, client)
        return client

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        self._clients.clear()
