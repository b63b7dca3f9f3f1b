"""Bot Framework authentication that builds connector and token clients once, not once per turn.

botbuilder 4.17's CloudAdapter asks for a new ConnectorClient and UserTokenClient on every turn,
and each construction costs milliseconds of msrest configuration (reference/botbuilder-pitfalls.md
§2). This wrapper delegates every decision to the stock implementation and only remembers the
clients it made, per app id, service URL and audience.
"""

from __future__ import annotations

from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    JwtTokenValidation,
    UserTokenClient,
)


class _CachingConnectorFactory(ConnectorFactory):
    def __init__(self, inner: ConnectorFactory) -> None:
        self._inner = inner
        self._clients: dict[tuple[str, str | None], ConnectorClient] = {}

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = await self._inner.create(service_url, audience)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.__aexit__(None, None, None)
        self._clients.clear()


class CachingBotFrameworkAuthentication(BotFrameworkAuthentication):
    """Stock ConfigurationBotFrameworkAuthentication, with its clients kept and reused."""

    def __init__(self, configuration: Any) -> None:
        self._inner = ConfigurationBotFrameworkAuthentication(configuration)
        self._factories: dict[str, _CachingConnectorFactory] = {}
        self._token_clients: dict[str, UserTokenClient] = {}

    @staticmethod
    def _app_id(claims_identity: ClaimsIdentity | None) -> str:
        claims = claims_identity.claims if claims_identity and claims_identity.claims else {}
        return JwtTokenValidation.get_app_id_from_claims(claims) or ""

    def _factory(self, app_id: str, make: Any) -> _CachingConnectorFactory:
        if app_id not in self._factories:
            self._factories[app_id] = _CachingConnectorFactory(make())
        return self._factories[app_id]

    async def authenticate_request(self, activity: Any, auth_header: str) -> AuthenticateRequestResult:
        result = await self._inner.authenticate_request(activity, auth_header)
        inner = result.connector_factory
        result.connector_factory = self._factory(self._app_id(result.claims_identity), lambda: inner)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(self._app_id(claims_identity), lambda: self._inner.create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = self._app_id(claims_identity)
        if app_id not in self._token_clients:
            self._token_clients[app_id] = await self._inner.create_user_token_client(claims_identity)
        return self._token_clients[app_id]

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return str(self._inner.get_originating_audience())

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self._inner.authenticate_channel_request(auth_header)

    async def close(self) -> None:
        for factory in self._factories.values():
            await factory.close()
