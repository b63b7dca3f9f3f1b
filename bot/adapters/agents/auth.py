"""Bot Framework authentication on the Agents SDK: inbound channel tokens, outbound tokens from an MSAL connection.

Inbound: the SDK's `JwtTokenValidator` (signature, RS256 only, audience, issuer allow-list) with the channel's
signing keys taken from `ToBotFromChannelOpenIdMetadataUrl`. The SDK 1.9.0 derives its key URL from the token's
issuer (Bot Framework's public or government keys, else login.microsoftonline.com), with no setting for a
sovereign or private channel, so the validator gets our key source; the rest is the SDK's. Two checks the Bot
Framework authentication doc asks for and the SDK's JWT middleware leaves out are added here: the token's
`serviceurl` claim equals the activity's `serviceUrl`, and the signing key is endorsed for the activity's
channel (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
Every refusal is one `channel_auth_refused` warning and a 401 before the activity reaches the bot.

Outbound: the SDK's `MsalAuth` for the bot's client credentials, from `ToChannelFromBotLoginUrl` for the
`ToChannelFromBotOAuthScope` resource. For an authority outside Microsoft's well-known ones (a sovereign or
private cloud, the sandbox) msal would ask login.microsoftonline.com to vouch for it; that client is built with
validation off, as bot/adapters/teams/auth.py does for botbuilder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import threading
import urllib.request
from typing import Any
from urllib.parse import urlparse

import jwt
import msal
import requests
from microsoft_agents.authentication.msal import MsalAuth
from microsoft_agents.hosting.core import AgentAuthConfiguration, AuthTypes, ClaimsIdentity
from microsoft_agents.hosting.core.authorization import AccessTokenProviderBase, JwtTokenValidator
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS

from ...config import ChannelEndpoints
from ..conversation.notifier import VouchedUrls
from ..conversation.verified import VerifiedTokens

log = logging.getLogger(__name__)
PUBLIC_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
PUBLIC_ISSUER = "https://api.botframework.com"
PUBLIC_SCOPE = "https://api.botframework.com"
PUBLIC_TOKEN_SERVICE = "https://api.botframework.com"


class ChannelAuthRefused(PermissionError):
    """An inbound activity failed Bot Framework authentication; answered 401, never processed."""


def auth_configuration(app_id: str, password: str, tenant_id: str, channel: ChannelEndpoints) -> AgentAuthConfiguration:
    """The SDK's configuration from the standard setting names (MicrosoftApp*, ToChannelFromBot*, ToBotFromChannel*)."""
    return AgentAuthConfiguration(
        auth_type=AuthTypes.client_secret,
        client_id=app_id or None,
        tenant_id=tenant_id or None,
        client_secret=password or None,
        authority=channel.login_url or None,
        scopes=[_default_scope(channel.oauth_scope or PUBLIC_SCOPE)],
        issuers=[channel.token_issuer or PUBLIC_ISSUER],
        validate_issuer=True,
        anonymous_allowed=not app_id,
    )


def _default_scope(resource: str) -> str:
    return resource if resource.endswith("/.default") else resource.rstrip("/") + "/.default"


class _ChannelKeys:
    """The channel's signing keys, from its OpenID metadata (`jwks_uri`), through PyJWT's key client (cached;
    an unknown key id makes it fetch the set again, which follows key rotation)."""

    def __init__(self, metadata_url: str, ca_bundle: str | None, timeout: float) -> None:
        self._metadata_url, self._timeout = metadata_url, timeout
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwk_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                with urllib.request.urlopen(self._metadata_url, timeout=self._timeout, context=self._ssl) as r:
                    jwks_uri = json.loads(r.read())["jwks_uri"]
                self._client = jwt.PyJWKClient(jwks_uri, timeout=int(self._timeout), ssl_context=self._ssl)
            return self._client

    def _key(self, kid: str) -> jwt.PyJWK:
        return self._jwk_client().get_signing_key(kid)

    async def get_signing_key(self, jwks_uri: str | None, header: dict[str, Any]) -> jwt.PyJWK:
        """The SDK's key-source interface; `jwks_uri` (derived by the SDK from the issuer) is not used."""
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("the token names no signing key")
        return await asyncio.to_thread(self._key, kid)


class _ChannelTokenValidator(JwtTokenValidator):  # type: ignore[misc]
    def __init__(self, configuration: AgentAuthConfiguration, keys: _ChannelKeys) -> None:
        super().__init__(configuration)
        self._jwk_client_manager = keys  # the SDK's key source, per instance: the configured channel's keys


class ChannelAuthenticator:
    """Authenticates an inbound activity as the Bot Framework channel's; remembers the service URLs it vouched for."""

    def __init__(
        self, configuration: AgentAuthConfiguration, channel: ChannelEndpoints, ca_bundle: str | None, timeout: float = 30.0
    ) -> None:
        self._configuration = configuration
        self._keys = _ChannelKeys(channel.openid_metadata_url or PUBLIC_OPENID_METADATA, ca_bundle, timeout)
        self._validator = _ChannelTokenValidator(configuration, self._keys)
        self.vouched_urls = VouchedUrls()  # the service URLs authenticated activities came with
        self._verified: VerifiedTokens[ClaimsIdentity] = VerifiedTokens()  # tokens checked, for a while

    @property
    def anonymous(self) -> bool:
        return bool(self._configuration.ANONYMOUS_ALLOWED)

    async def authenticate(self, auth_header: str | None, activity: dict[str, Any]) -> ClaimsIdentity:
        key = VerifiedTokens.key(auth_header, activity.get("serviceUrl"), activity.get("channelId")) if auth_header else ""
        known = self._verified.get(key) if key and not self.anonymous else None
        if known is not None:
            self.vouched_urls.add(activity.get("serviceUrl"))
            return known
        try:
            identity = await self._authenticate(auth_header, activity)
        except Exception as e:  # PyJWT errors, ValueError from the SDK's checks, our own refusals
            reason = "no Authorization header" if not auth_header else f"{type(e).__name__}: {e}"[:200]
            log.warning(
                "refused a %s activity from channel %s: Bot Framework authentication failed (%s; "
                "Authorization header %s); nothing was processed",
                str(activity.get("type"))[:40],
                str(activity.get("channelId"))[:40],
                reason,
                "present" if auth_header else "missing",
                extra={"event": "channel_auth_refused", "detail": reason},
            )
            raise ChannelAuthRefused(reason) from None
        if key and not self.anonymous:
            self._verified.put(key, identity, identity.claims.get("exp"))
        self.vouched_urls.add(activity.get("serviceUrl"))
        return identity

    async def _authenticate(self, auth_header: str | None, activity: dict[str, Any]) -> ClaimsIdentity:
        if self.anonymous:
            # Bot Framework authentication is off (ANONYMOUS_ALLOWED, loopback only): the SDK's anonymous identity
            return ClaimsIdentity({}, authentication_type="Anonymous")
        if not auth_header:
            raise ChannelAuthRefused("no Authorization header")
        scheme, _, token = auth_header.partition(" ")
        token = token.strip()
        # split() finds whitespace at C speed (a per-character generator was 2% of a `help` turn in the profile)
        if scheme.lower() != "bearer" or not token or len(token.split()) != 1:
            raise ChannelAuthRefused("not a Bearer token")
        identity: ClaimsIdentity = await self._validator.validate_token(token)
        # PyJWT checks `exp` only when present; a channel token always carries one (botbuilder requires it too)
        if not isinstance(identity.claims.get("exp"), int | float):
            raise ChannelAuthRefused("the token has no expiry")
        claimed = identity.claims.get("serviceurl")
        if claimed != activity.get("serviceUrl"):
            raise ChannelAuthRefused("the token's serviceurl claim is not the activity's serviceUrl")
        key = await self._keys.get_signing_key(None, jwt.get_unverified_header(token))
        endorsements = getattr(key, "_jwk_data", {}).get("endorsements")
        channel_id = activity.get("channelId")
        if endorsements is not None and channel_id not in endorsements:
            raise ChannelAuthRefused(f"the signing key is not endorsed for channel {str(channel_id)[:40]!r}")
        return identity


class BotMsalAuth(MsalAuth):  # type: ignore[misc]
    """The SDK's MSAL token provider for the bot's own tokens (Bot Connector, token service): always for the
    configured `ToChannelFromBotOAuthScope`, and from an authority msal cannot validate online when it is one."""

    def __init__(self, configuration: AgentAuthConfiguration, ca_bundle: str | None, timeout: float) -> None:
        super().__init__(configuration)
        self._ca_bundle, self._timeout = ca_bundle, timeout

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        # the SDK asks for the public cloud's Bot Framework scope; the bot's is the configured one
        token: str = await super().get_access_token(resource_url, list(self.configuration.SCOPES), force_refresh)
        return token

    def _create_client_application(self, tenant_id: str | None = None) -> Any:
        config = self.configuration
        authority = MsalAuth._resolve_authority(config, tenant_id)
        if urlparse(authority).hostname in WELL_KNOWN_AUTHORITY_HOSTS:
            return super()._create_client_application(tenant_id)
        session = requests.Session()
        if self._ca_bundle:
            session.verify = self._ca_bundle
        return msal.ConfidentialClientApplication(
            config.CLIENT_ID,
            client_credential=config.CLIENT_SECRET,
            authority=authority,
            validate_authority=False,
            instance_discovery=False,
            http_client=session,
            timeout=self._timeout,
        )


class BotConnections:
    """The SDK's `Connections`: one connection, the bot's own identity, for every service URL."""

    def __init__(self, provider: BotMsalAuth) -> None:
        self._provider = provider

    def get_connection(self, connection_name: str) -> AccessTokenProviderBase:
        return self._provider

    def get_default_connection(self) -> AccessTokenProviderBase:
        return self._provider

    def get_token_provider(self, claims_identity: ClaimsIdentity, service_url: str) -> AccessTokenProviderBase:
        return self._provider

    def get_token_provider_from_activity(self, claims_identity: ClaimsIdentity, activity: Any) -> AccessTokenProviderBase:
        return self._provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self._provider.configuration
