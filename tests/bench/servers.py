"""The three baselines of `make bench`, each served in a process of its own as the bot is.

Every one answers a message by replying to it through the Bot Connector with the bot's own token (HTTP in, HTTP out),
and an `adaptiveCard/action` invoke (a card click) with an Adaptive Card in the invoke response, as the bot's Approve
does. They read the bot's settings from the environment (the production names: MicrosoftAppId, MicrosoftAppPassword,
ToChannelFromBotLoginUrl, ...), as the bot does.

`python -m tests.bench.servers floor PORT`: a bare aiohttp handler that posts the reply to the activity's serviceUrl
itself, with a token fetched once (client credentials), no check of the inbound channel token and no Bot Framework
code at all: the floor any bot's turn stands on.

`python -m tests.bench.servers stock PORT`: botbuilder's own echo bot on `CloudAdapter` with
`ConfigurationBotFrameworkAuthentication`, as the samples and every Python Teams bot start from: it checks each
channel token and builds its connector client per turn; card clicks answered by `on_adaptive_card_invoke`. One part
is not stock: its credentials come from the bot's `BotCredentialsFactory`, because stock botbuilder has msal validate
a login URL outside Microsoft's well-known authorities online (login.microsoftonline.com) and gets no token from the
sandbox's Entra; for a well-known authority that factory hands back the stock credentials.

`python -m tests.bench.servers agents PORT`: the Microsoft 365 Agents SDK's echo agent as its quickstart sample starts
it (microsoft/Agents, samples/python/quickstart: `AgentApplication` on the SDK's `CloudAdapter`, configuration from
the environment with `load_configuration_from_env`, an aiohttp app with `jwt_authorization_middleware` on); card
clicks answered by `adaptive_cards.action_execute`. Two parts are not stock, for the same reason as above: the token
provider is the bot's `BotMsalAuth` (msal with authority validation off for the sandbox's login URL), and the JWT
validator's key source is the channel's OpenID keys (the SDK derives the key URL from the token's issuer and knows
only Microsoft's public clouds).
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

CARD = "application/vnd.microsoft.card.adaptive"


def _env(name: str) -> str:
    return os.environ.get(name, "")


def echo_card(data: Any) -> dict[str, Any]:
    """What every baseline answers a card click with: a card saying what was clicked."""
    verb = data.get("verb") if isinstance(data, dict) else None
    return {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": f"You clicked {verb or 'a button'}."}]}


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
        if activity.get("type") == "invoke":  # a card click: the card in the invoke response
            value = {"statusCode": 200, "type": CARD, "value": echo_card((activity.get("value") or {}).get("action"))}
            return web.json_response(value)
        if "s" not in session:
            session["s"] = aiohttp.ClientSession()
        s = session["s"]
        url = f"{activity['serviceUrl']}/v3/conversations/{activity['conversation']['id']}/activities/{activity['id']}"
        reply = {"type": "message", "text": activity.get("text", ""), "replyToId": activity["id"]}
        async with s.post(url, json=reply, headers={"Authorization": f"Bearer {await bearer(s)}"}) as r:
            r.raise_for_status()
            await r.read()
        return web.Response(status=201)

    async def close(app: web.Application) -> None:
        if "s" in session:
            await session["s"].close()

    app = web.Application()
    app.router.add_post("/api/messages", handle)
    app.on_cleanup.append(close)
    return app


def stock_app() -> web.Application:
    from botbuilder.core import ActivityHandler, InvokeResponse, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import AdaptiveCardInvokeResponse

    class Echo(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(turn_context.activity.text)

        async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
            # the response model handed to CloudAdapter as it is: `on_adaptive_card_invoke`'s answer is serialized by
            # ActivityHandler and then again by CloudAdapter 4.17, which fails on the dict (HTTP 500)
            if turn_context.activity.name == "adaptiveCard/action":
                card = echo_card((turn_context.activity.value or {}).get("action"))
                return InvokeResponse(status=200, body=AdaptiveCardInvokeResponse(status_code=200, type=CARD, value=card))
            return await super().on_invoke_activity(turn_context)

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


def agents_app() -> web.Application:
    from microsoft_agents.activity import AdaptiveCardInvokeResponse, load_configuration_from_env
    from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
    from microsoft_agents.hosting.core import AgentApplication, ConnectionManager, MemoryStorage, TurnContext, TurnState
    from microsoft_agents.hosting.core.authorization import JwtTokenValidator

    from bot.adapters.agents.auth import BotMsalAuth, _ChannelKeys

    ca = _env("SSL_CERT_FILE") or None
    prefix = "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__"
    config = load_configuration_from_env(
        {
            f"{prefix}AUTHTYPE": "ClientSecret",
            f"{prefix}CLIENTID": _env("MicrosoftAppId"),
            f"{prefix}CLIENTSECRET": _env("MicrosoftAppPassword"),
            f"{prefix}TENANTID": _env("MicrosoftAppTenantId"),
            f"{prefix}AUTHORITY": _env("ToChannelFromBotLoginUrl"),
        }
    )
    config["CONNECTIONS"]["SERVICE_CONNECTION"]["SETTINGS"]["SCOPES"] = [f"{_env('ToChannelFromBotOAuthScope')}/.default"]  # a list
    # not stock: the sandbox's login URL and channel keys (see the module's docstring)
    connections = ConnectionManager(provider_factory=lambda c: BotMsalAuth(c, ca, 30.0), **config)
    JwtTokenValidator._jwk_client_manager = _ChannelKeys(_env("ToBotFromChannelOpenIdMetadataUrl"), ca, 30.0)
    adapter = CloudAdapter(connection_manager=connections)
    agent = AgentApplication[TurnState](storage=MemoryStorage(), adapter=adapter, connection_manager=connections, **config)

    @agent.activity("message")
    async def on_message(context: TurnContext, state: TurnState) -> None:
        await context.send_activity(context.activity.text)

    @agent.adaptive_card.action_execute(re.compile(".*"))
    async def on_click(context: TurnContext, state: TurnState, data: Any) -> AdaptiveCardInvokeResponse:
        return AdaptiveCardInvokeResponse(status_code=200, type=CARD, value=echo_card(context.activity.value.get("action")))

    async def entry_point(request: web.Request) -> web.Response:
        return await start_agent_process(request, request.app["agent_app"], request.app["adapter"])  # type: ignore[no-any-return]

    app = web.Application(middlewares=[jwt_authorization_middleware])
    app.router.add_post("/api/messages", entry_point)
    app["agent_configuration"] = connections.get_default_connection_configuration()
    app["agent_app"], app["adapter"] = agent, adapter
    return app


APPS = {"floor": floor_app, "stock": stock_app, "agents": agents_app}

if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    web.run_app(APPS[kind](), host="127.0.0.1", port=port, print=None, access_log=None)
