"""Bot Framework authentication: stock decisions, clients built once, every refusal a clean 401.

- botbuilder 4.17's CloudAdapter asks for a new ConnectorClient and UserTokenClient on every turn,
  and each construction costs milliseconds of msrest configuration. This wrapper delegates every
  decision to the stock implementation and only remembers the clients it made, per app id,
  service URL and audience.
- Stock botbuilder lets many inbound authentication failures escape as exceptions (HTTP 500: no
  Authorization header, unknown signing key, expired token, key not endorsed for the channel). Any
  failure of `authenticate_request` becomes `ChannelAuthRefused` (a PermissionError, which
  CloudAdapter answers 401) before the activity reaches the bot, and is logged as a refusal.
- For a login URL outside Microsoft's well-known authorities (a sovereign or private cloud, the
  sandbox), botbuilder builds its msal app with authority validation on, so msal asks
  login.microsoftonline.com to vouch for the authority and no token is obtained offline. The bot's
  own credentials factory builds that msal app with validation off; well-known authorities keep
  the stock credentials.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import urlparse

import msal
import requests
from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    JwtTokenValidation,
    MicrosoftAppCredentials,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from msrest.authentication import Authentication

from ..conversation.notifier import VouchedUrls
from ..conversation.verified import VerifiedTokens

log = logging.getLogger(__name__)
MAX_CONNECTOR_CLIENTS = 32  # per app id; service URLs are few once only trusted hosts are called


class ChannelAuthRefused(PermissionError):
    """An inbound activity failed Bot Framework authentication; CloudAdapter answers it 401."""


def _require_expiry(identity: ClaimsIdentity | None) -> None:
    """A channel token must carry `exp`: botbuilder 4.17 (PyJWT without `require`) checks expiry only when the claim
    is present, so a token without one would never expire. "Authenticate requests from the Bot Framework Connector
    service" requires that the token has not expired
    (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication)."""
    if identity is None or identity.authentication_type == AuthenticationConstants.ANONYMOUS_AUTH_TYPE:
        return  # authentication off (ANONYMOUS_ALLOWED): there is no token
    exp = (identity.claims or {}).get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise PermissionError("the token carries no expiry (exp)")


class PrivateAuthorityCredentials(MicrosoftAppCredentials):  # type: ignore[misc]
    """Client credentials from an authority msal cannot validate online (sovereign or private cloud, sandbox)."""

    def __init__(self, app_id: str, password: str, authority: str, oauth_scope: str, ca_bundle: str | None, timeout: float = 30.0) -> None:
        super().__init__(app_id, password, oauth_scope=oauth_scope)
        self.oauth_endpoint = authority
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._msal: msal.ConfidentialClientApplication | None = None

    def get_access_token(self, force_refresh: bool = False) -> str:
        scope = self.oauth_scope if self.oauth_scope.endswith("/.default") else self.oauth_scope + "/.default"
        if self._msal is None:
            session = requests.Session()
            if self._ca_bundle:
                session.verify = self._ca_bundle
            self._msal = msal.ConfidentialClientApplication(
                self.microsoft_app_id,
                client_credential=self.microsoft_app_password,
                authority=self.oauth_endpoint,
                validate_authority=False,
                instance_discovery=False,
                http_client=session,
                timeout=self._timeout,
            )
        result = self._msal.acquire_token_for_client(scopes=[scope])  # msal answers from its cache while valid
        if "access_token" in result:
            return str(result["access_token"])
        # the same exception botbuilder raises; the STS error text carries no secret
        raise PermissionError(
            f"Failed to get access token with error: {result.get('error')}, error_description: {result.get('error_description')}"
        )


class BotCredentialsFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """The stock credentials factory, except for login URLs outside Microsoft's well-known authorities."""

    def __init__(self, configuration: Any, ca_bundle: str | None, timeout: float = 30.0) -> None:
        self._inner = ConfigurationServiceClientCredentialFactory(configuration)
        self._app_id, self._password = configuration.APP_ID, configuration.APP_PASSWORD
        self._ca_bundle = ca_bundle
        self._timeout = timeout

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool) -> Authentication:
        host = urlparse(login_endpoint or "").hostname
        if host and host not in WELL_KNOWN_AUTHORITY_HOSTS and self._password and not await self.is_authentication_disabled():
            if not await self.is_valid_app_id(app_id):
                raise PermissionError("Invalid app_id")
            return PrivateAuthorityCredentials(app_id, self._password, login_endpoint, oauth_scope, self._ca_bundle, self._timeout)
        return await self._inner.create_credentials(app_id, oauth_scope, login_endpoint, validate_authority)


class _CachingConnectorFactory(ConnectorFactory):
    """Connector clients per (service URL, audience), at most `limit` of them: the least recently used one is
    closed when another is needed (each holds an HTTP session and its sockets)."""

    def __init__(self, inner: ConnectorFactory, timeout: float, limit: int = MAX_CONNECTOR_CLIENTS) -> None:
        self._inner, self._limit, self._timeout = inner, limit, timeout
        self._clients: OrderedDict[tuple[str, str | None], ConnectorClient] = OrderedDict()

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (service_url, audience)
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        client = self._clients[key] = await self._inner.create(service_url, audience)
        _set_timeout(client, self._timeout)
        while len(self._clients) > self._limit:
            _, evicted = self._clients.popitem(last=False)
            await _close(evicted)
        return client

    @property
    def size(self) -> int:  # not __len__: botbuilder tests the factory for truth
        return len(self._clients)

    async def close(self) -> None:
        for client in self._clients.values():
            await _close(client)
        self._clients.clear()


def _set_timeout(client: Any, timeout: float) -> None:
    """msrest's per-request timeout (connect and read), otherwise 100 seconds per call."""
    config = getattr(getattr(client, "_client", None), "config", None) or getattr(client, "config", None)
    connection = getattr(config, "connection", None)
    if connection is not None:
        connection.timeout = timeout


async def _close(client: ConnectorClient) -> None:
    try:
        await client.__aexit__(None, None, None)
    except Exception:
        log.warning("closing a connector client failed", exc_info=True)


def _copy(result: AuthenticateRequestResult) -> AuthenticateRequestResult:
    """A result of its own for each turn (the turn replaces its connector factory)."""
    copy = AuthenticateRequestResult()
    copy.audience, copy.claims_identity = result.audience, result.claims_identity
    copy.caller_id, copy.connector_factory = result.caller_id, result.connector_factory
    return copy


class CachingBotFrameworkAuthentication(BotFrameworkAuthentication):
    """Stock ConfigurationBotFrameworkAuthentication, with its clients kept and reused."""

    def __init__(self, configuration: Any, ca_bundle: str | None = None, timeout: float = 30.0) -> None:
        self._inner = ConfigurationBotFrameworkAuthentication(
            configuration, credentials_factory=BotCredentialsFactory(configuration, ca_bundle, timeout)
        )
        self._timeout = timeout
        self._factories: dict[str, _CachingConnectorFactory] = {}
        self._token_clients: dict[str, UserTokenClient] = {}
        # service URLs that arrived on authenticated activities (botbuilder checks the channel token's `serviceurl`
        # claim equals the activity's), most recent last; with authentication off (ANONYMOUS_ALLOWED) the bot
        # has no token to send, so the activity's own URL is all there is
        self.vouched_urls = VouchedUrls()  # the service URLs authenticated activities came with
        self._verified: VerifiedTokens[AuthenticateRequestResult] = VerifiedTokens()  # tokens checked, for a while

    @staticmethod
    def _app_id(claims_identity: ClaimsIdentity | None) -> str:
        claims = claims_identity.claims if claims_identity and claims_identity.claims else {}
        return JwtTokenValidation.get_app_id_from_claims(claims) or ""

    def _factory(self, app_id: str, make: Any) -> _CachingConnectorFactory:
        if app_id not in self._factories:
            self._factories[app_id] = _CachingConnectorFactory(make(), self._timeout)
        return self._factories[app_id]

    async def authenticate_request(self, activity: Any, auth_header: str) -> AuthenticateRequestResult:
        key = VerifiedTokens.key(auth_header, activity.service_url, activity.channel_id) if auth_header else ""
        known = self._verified.get(key) if key else None
        result = _copy(known) if known is not None else await self._authenticate(activity, auth_header)
        if known is None and key:
            self._verified.put(key, _copy(result), (result.claims_identity.claims or {}).get("exp"))
        self._vouch(activity, result.claims_identity)
        inner = result.connector_factory
        result.connector_factory = self._factory(self._app_id(result.claims_identity), lambda: inner)
        return result

    async def _authenticate(self, activity: Any, auth_header: str) -> AuthenticateRequestResult:
        try:
            result: AuthenticateRequestResult = await self._inner.authenticate_request(activity, auth_header)
            _require_expiry(result.claims_identity)
        except Exception as e:  # botbuilder raises PermissionError, IndexError, jwt errors or plain Exception
            # the reason names the check that failed; the token itself is never logged
            reason = "no Authorization header" if not auth_header else f"{type(e).__name__}: {e}"[:200]
            log.warning(
                "refused a %s activity from channel %s: Bot Framework authentication failed (%s; "
                "Authorization header %s); nothing was processed",
                str(activity.type)[:40],
                str(activity.channel_id)[:40],
                reason,
                "present" if auth_header else "missing",
                extra={"event": "channel_auth_refused", "detail": reason},
            )
            raise ChannelAuthRefused(reason) from None
        return result

    def _vouch(self, activity: Any, identity: ClaimsIdentity | None) -> None:
        url = getattr(activity, "service_url", None)
        if not isinstance(url, str) or not url:
            return
        claims = identity.claims if identity is not None and identity.claims else {}
        claimed = claims.get(AuthenticationConstants.SERVICE_URL_CLAIM)
        anonymous = identity is not None and identity.authentication_type == AuthenticationConstants.ANONYMOUS_AUTH_TYPE
        if claimed != url and not anonymous:
            return
        self.vouched_urls.add(url)

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> AuthenticateRequestResult:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(self._app_id(claims_identity), lambda: self._inner.create_connector_factory(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        app_id = self._app_id(claims_identity)
        if app_id not in self._token_clients:
            client = await self._inner.create_user_token_client(claims_identity)
            _set_timeout(client, self._timeout)  # the token service's client (sign-in links, magic codes)
            self._token_clients[app_id] = client
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
