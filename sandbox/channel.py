"""A loopback Bot Framework channel token issuer: what signs the activities Teams posts to a bot.

Modelled on "Authenticate requests from the Bot Framework Connector service to your bot"
(https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication):
- the OpenID metadata document (`/v1/.well-known/openidconfiguration`) names `jwks_uri`;
- each published key carries `endorsements`, the channel ids it may sign for (here `msteams` only),
  and the bot must refuse a key not endorsed for the activity's `channelId`;
- the token: `iss` `https://api.botframework.com` (the real value; only the hosts serving the
  metadata differ), `aud` the bot's Microsoft App ID, `serviceurl` equal to the activity's
  `serviceUrl`, `nbf`/`exp`; no `ver` claim (a `ver` claim would route it to skill/emulator
  validation in botbuilder), RS256.
The sandbox-only `POST /sandbox/channel-token` mints the token the Teams service would attach
(the driver calls it for every activity it posts).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .keys import KeySet
from .reprs import PrintsOwnRepr

CHANNEL_TOKEN_ISSUER = "https://api.botframework.com"  # the public cloud's value, kept as is
ENDORSEMENTS = ["msteams"]  # the channels our keys may sign for
TOKEN_LIFETIME = 3600  # the doc's tokens live about an hour


@dataclass
class ChannelIssuer(PrintsOwnRepr):
    """OpenID metadata and endorsed JWKS of the channel token issuer, and the tokens it signs."""

    keys: KeySet = field(default_factory=KeySet)
    clock: Callable[[], float] = time.time
    base_url: str = ""  # set by the runner once the port is known
    issued: list[str] = field(default_factory=list, repr=False)  # every token minted, so tests can prove none leaks

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._jwks)
        app.router.add_post("/sandbox/channel-token", self._channel_token)
        return app

    def token(
        self,
        audience: str,
        service_url: str,
        *,
        lifetime: int = TOKEN_LIFETIME,
        issuer: str = CHANNEL_TOKEN_ISSUER,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A channel token for an activity posted to the bot `audience` with `serviceUrl` = `service_url`."""
        now = int(self.clock())
        claims: dict[str, Any] = {"iss": issuer, "aud": audience, "serviceurl": service_url, "nbf": now - 5, "exp": now + lifetime}
        claims.update(extra or {})
        token = self.keys.active.sign(claims)
        self.issued.append(token)
        return token

    async def _metadata(self, request: web.Request) -> web.Response:
        # the document's fields as the doc's example shows them
        return web.json_response(
            {
                "issuer": CHANNEL_TOKEN_ISSUER,
                "authorization_endpoint": f"{self.base_url}/v1/botframework.com/oauth2/v2.0/authorize",
                "jwks_uri": f"{self.base_url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        jwks = self.keys.jwks()
        for key in jwks["keys"]:
            key["endorsements"] = list(ENDORSEMENTS)
        return web.json_response(jwks)

    async def _channel_token(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        audience, service_url = body.get("audience"), body.get("serviceUrl")
        if not isinstance(audience, str) or not isinstance(service_url, str) or not audience or not service_url:
            return web.json_response({"error": 'expected {"audience": <bot app id>, "serviceUrl": <activity serviceUrl>}'}, status=400)
        return web.json_response({"token": self.token(audience, service_url), "expires_in": TOKEN_LIFETIME})
