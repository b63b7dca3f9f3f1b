"""How the Bot Connector and the token service check the bot's own bearer token.

"Authenticate requests from your bot to the Bot Connector service"
(https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication):
the bot obtains an Entra token by client credentials for the scope `https://api.botframework.com/.default`
and sends it as `Authorization: Bearer ...` on every Connector and token-service call; the service
refuses with 401 a call without it, or with a token that is not valid, not for
`https://api.botframework.com`, or not issued to a registered bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt
from aiohttp import web

from .http_errors import json_error
from .keys import KeySet
from .world import App, World

BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"  # the real resource; the authority host is the sandbox's


@dataclass
class BotTokenCheck:
    """Verifies a bot's bearer token against the Entra simulator's keys; `issuer_base` is set once Entra has a URL."""

    world: World
    keys: KeySet
    issuer_base: str = ""
    refusals: list[str] = field(default_factory=list)  # why each call was refused (never the token)

    def caller(self, authorization: str | None) -> App | str:
        """The bot app that made the call, or the reason it is refused."""
        if not authorization or not authorization.startswith("Bearer "):
            return self._refuse("no bearer token")
        try:
            claims = self.keys.verify(
                authorization[7:],
                audience=[BOT_FRAMEWORK_RESOURCE, BOT_FRAMEWORK_RESOURCE + "/"],
                options={"require": ["exp", "aud", "iss"]},
            )
        except jwt.InvalidTokenError as e:
            return self._refuse(f"invalid token ({type(e).__name__})")
        tid = str(claims.get("tid", ""))
        # v2 tokens name the tenant's v2.0 issuer, v1 tokens the tenant's sts issuer (access-tokens doc)
        if claims.get("iss") not in (f"{self.issuer_base}/{tid}/v2.0", f"{self.issuer_base}/{tid}/", f"https://sts.windows.net/{tid}/"):
            return self._refuse("token from another issuer")
        app = self.world.app_by_client_id(str(claims.get("appid") or claims.get("azp") or ""))
        if app is None or app is not self.world.bot:
            return self._refuse("token of an app that is not a registered bot")
        return app

    def _refuse(self, reason: str) -> str:
        self.refusals.append(reason)
        return reason


def unauthorized(reason: str) -> web.Response:
    """The 401 the Connector and the token service answer a call without a valid bot token (nothing is performed)."""
    return json_error(401, "Unauthorized", f"Authorization has been denied for this request: {reason}.")
