"""The two baselines of `make bench`, each served in a process of its own as the bot is.

Both read the bot's settings from the environment (the production names: MicrosoftAppId, MicrosoftAppPassword,
ToChannelFromBotLoginUrl, ...), as the bot does, and reply through the Bot Connector with the bot's own token.

`python -m tests.bench.servers floor PORT`: a bare aiohttp handler that posts the reply to the activity's
serviceUrl itself, with a token fetched once (client credentials) and no check of the inbound channel token and no
Bot Framework code at all: HTTP in, HTTP out, the floor any bot's turn stands on.

`python -m tests.bench.servers stock PORT`: botbuilder's own echo bot on `CloudAdapter` with
`ConfigurationBotFrameworkAuthentication`, as the samples and every Python Teams bot start from: it checks each
channel token and builds its connector client per turn. One part is not stock: its credentials come from the
bot's `BotCredentialsFactory`, because stock botbuilder has msal validate a login URL outside Microsoft's
well-known authorities online (login.microsoftonline.com) and gets no token from the sandbox's Entra; for a
well-known authority that factory hands back the stock credentials.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web


def _env(name: str) -> str:
    return os.environ.get(name, "")


def floor_app() -> web.Application:
    session: dict[str, aiohttp.ClientSession] = {}
    token: dict[str, Any] = {}

    async def bearer(s: aiohttp.ClientSession) -> str:
        """The bot's token for the Bot Connector (OAuth client credentials), kept until five minutes before expiry."""
        if token.get("expires", 0) < time.monotonic() + 300:
            form = {
                "grant_type": "client_credentials",
                "client_id": _env("MicrosoftAppId"),
                "client_secret": _env("MicrosoftAppPassword"),
                "scope": f"{_env('ToChannelFromBotOAuthScope')}/.default",
            }
            async with s.post(f"{_env('ToChannelFromBotLoginUrl')}/oauth2/v2.0/token", data=form) as r:
                r.raise_for_status()
                body = await r.json()
            token.update(value=body["access_token"], expires=time.monotonic() + float(body["expires_in"]))
        return str(token["value"])

    async def handle(request: web.Request) -> web.Response:
        activity = await request.json()
        if "s" not in session:
            session["s"] = aiohttp.ClientSession()
        s = session["s"]
        url = f"{activity['serviceUrl']}/v3/conversations/{activity['conversation']['id']}/activities/{activity['id']}"
        headers = {"Authorization": f"Bearer {await bearer(s)}"}
        async with s.post(url, json={"type": "message", "text": activity.get("text", "")}, headers=headers) as r:
            r.raise_for_status()
            await r.read()
        if activity.get("type") == "invoke":  # what an invoke expects: an answer in the body
            return web.json_response({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"})
        return web.Response(status=201)

    async def close(app: web.Application) -> None:
        if "s" in session:
            await session["s"].close()

    app = web.Application()
    app.router.add_post("/api/messages", handle)
    app.on_cleanup.append(close)
    return app


def stock_app() -> web.Application:
    from botbuilder.core import ActivityHandler, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(turn_context.activity.text)

    from bot.adapters.teams.auth import BotCredentialsFactory

    class Config:  # the attribute names ConfigurationBotFrameworkAuthentication reads
        APP_ID = _env("MicrosoftAppId") or None
        APP_PASSWORD = _env("MicrosoftAppPassword") or None
        APP_TYPE = _env("MicrosoftAppType") or "MultiTenant"
        APP_TENANTID = _env("MicrosoftAppTenantId") or None
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = _env("ToBotFromChannelOpenIdMetadataUrl") or None
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = _env("ToBotFromChannelTokenIssuer") or None
        TO_CHANNEL_FROM_BOT_LOGIN_URL = _env("ToChannelFromBotLoginUrl") or None
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = _env("ToChannelFromBotOAuthScope") or None
        OAUTH_URL = _env("OAuthUrl") or None

    config = Config()
    credentials = BotCredentialsFactory(config, _env("SSL_CERT_FILE") or None)
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials))
    bot = Echo()

    async def handle(request: web.Request) -> web.Response:
        return await adapter.process(request, bot) or web.Response(status=201)

    app = web.Application()
    app.router.add_post("/api/messages", handle)
    return app


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    web.run_app(floor_app() if kind == "floor" else stock_app(), host="127.0.0.1", port=port, print=None, access_log=None)
