"""A loopback Bot Framework token service (the bot's `OAuthUrl`): the sign-in fallback when Teams SSO fails.

Modelled on "User authentication within a conversation"
(https://learn.microsoft.com/azure/bot-service/bot-builder-concept-authentication) and the Teams
Universal Actions authentication flow
(https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/authentication-flow-in-universal-action-for-adaptive-cards),
with the REST paths botframework-connector's token API client calls (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference):
- `GET /api/botsignin/GetSignInResource?state=` answers the sign-in link for an OAuth connection
  (`state` is botbuilder's base64 TokenExchangeState: connection, conversation, the Teams user);
- the sign-in page signs a person in at the identity provider; in the sandbox it completes for a
  demo user (`&user=alice`) and shows the magic code, which Teams then puts in the invoke's `value.state`;
- `GET /api/usertoken/GetToken?userId&connectionName&channelId[&code]` answers the user's token
  once the code matches the pending sign-in of that same user (404 otherwise);
- `POST /api/usertoken/exchange` exchanges an SSO token for the connection's token;
- `DELETE /api/usertoken/SignOut` forgets the user's token.
Every /api call needs the bot's own token for `https://api.botframework.com` (401 otherwise).
The connection is the one infra/app-registrations.json describes (`oauthConnection`): Azure AD v2,
scope `<bot app id URI>/access_as_user`, so its token is a token for the bot's own API, which the
bot checks like an SSO token and exchanges On-Behalf-Of.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from .bot_token import BotTokenCheck, unauthorized
from .entra import EntraSimulator
from .http_errors import json_error
from .reprs import PrintsOwnRepr

AAD_V2_PROVIDER_ID = "30dd229c-58e3-4a48-bdfd-91ec48eb906c"
TOKEN_LIFETIME = 3600


@dataclass
class PendingSignIn(PrintsOwnRepr):
    """A sign-in link handed to the bot, for one Teams user and connection."""

    user_id: str  # the Teams user id (`from.id`) of the activity the link was made for
    connection_name: str
    channel_id: str
    code: str | None = None  # the magic code, once someone completed the sign-in page
    token: str | None = field(default=None, repr=False)


@dataclass
class TokenService(PrintsOwnRepr):
    auth: BotTokenCheck
    entra: EntraSimulator
    connections: dict[str, str] = field(default_factory=dict)  # connection name -> the demo user's token audience
    base_url: str = ""
    pending: dict[str, PendingSignIn] = field(default_factory=dict)  # opaque sign-in id -> pending sign-in
    tokens: dict[tuple[str, str, str], str] = field(default_factory=dict, repr=False)  # (user, connection, channel)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/botsignin/GetSignInResource", self._sign_in_resource)
        # the service's routes match case-insensitively (ASP.NET Core routing, "Route matching is case-insensitive":
        # https://learn.microsoft.com/aspnet/core/fundamentals/routing); the Agents SDK asks for `getSignInResource`
        app.router.add_get("/api/botsignin/getSignInResource", self._sign_in_resource)
        app.router.add_get("/api/oauth/signin", self._sign_in_page)
        app.router.add_get("/api/usertoken/GetToken", self._get_token)
        app.router.add_post("/api/usertoken/exchange", self._exchange)
        app.router.add_delete("/api/usertoken/SignOut", self._sign_out)
        return app

    # -- bot-facing API (needs the bot's token) ------------------------------------------------
    def _refused(self, request: web.Request) -> web.Response | None:
        caller = self.auth.caller(request.headers.get("Authorization"))
        if isinstance(caller, str):
            return unauthorized(caller)
        return None

    async def _sign_in_resource(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        try:
            state = json.loads(base64.b64decode(request.query["state"]))
            connection = str(state["connectionName"])
            conversation = state.get("conversation") or {}
            user_id = str((conversation.get("user") or {}).get("id") or "")
            channel_id = str(conversation.get("channelId") or "")
        except (KeyError, ValueError, TypeError, AttributeError):
            return json_error(400, "BadArgument", "The state parameter is not a TokenExchangeState.")
        if connection not in self.connections:
            return json_error(400, "BadArgument", f"The OAuth connection '{connection}' does not exist on this bot.")
        if not user_id:
            return json_error(400, "BadArgument", "The state names no user.")
        sign_in = secrets.token_urlsafe(24)
        self.pending[sign_in] = PendingSignIn(user_id, connection, channel_id)
        return web.json_response(
            {
                "signInLink": f"{self.base_url}/api/oauth/signin?signin={sign_in}",
                "tokenExchangeResource": {
                    "id": secrets.token_hex(8),
                    "uri": self.connections[connection],
                    # the connection's service provider (Azure Active Directory v2, as in
                    # infra/main.bicep); the Adaptive Cards schema makes it required:
                    # https://adaptivecards.io/explorer/TokenExchangeResource.html
                    "providerId": AAD_V2_PROVIDER_ID,
                },
            }
        )

    async def _get_token(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        q = request.query
        key = (q.get("userId", ""), q.get("connectionName", ""), q.get("channelId", ""))
        code = q.get("code")
        if code:
            for sign_in, p in list(self.pending.items()):
                if p.code is not None and secrets.compare_digest(p.code, code) and (p.user_id, p.connection_name, p.channel_id) == key:
                    assert p.token is not None
                    self.tokens[key] = p.token  # a code is good once
                    del self.pending[sign_in]
                    break
            else:
                return json_error(404, "NotFound", "No token for this user: the code does not match a sign-in.")
        token = self.tokens.get(key)
        if token is None:
            return json_error(404, "NotFound", "No token for this user and connection.")
        return web.json_response(self._token_response(key, token))

    async def _exchange(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        q = request.query
        key = (q.get("userId", ""), q.get("connectionName", ""), q.get("channelId", ""))
        audience = self.connections.get(key[1])
        body = await request.json()
        try:
            # the SSO token's audience is the App ID URI (v1) or the app's client id (v2)
            claims = self.entra.keys.verify(str(body.get("token", "")), audience=[audience, self.entra.world.bot.client_id])
            user = self.entra.world.user_by_oid(str(claims.get("oid")))
        except jwt.InvalidTokenError:
            user = None
        if audience is None or user is None:
            return json_error(400, "BadArgument", "The token could not be exchanged for this connection.")
        token = self._user_token(user.name)
        self.tokens[key] = token
        return web.json_response(self._token_response(key, token))

    async def _sign_out(self, request: web.Request) -> web.Response:
        if refused := self._refused(request):
            return refused
        q = request.query
        self.tokens.pop((q.get("userId", ""), q.get("connectionName", ""), q.get("channelId", "")), None)
        return web.Response(status=200)

    # -- the person-facing sign-in page --------------------------------------------------------
    async def _sign_in_page(self, request: web.Request) -> web.Response:
        pending = self.pending.get(request.query.get("signin", ""))
        if pending is None:
            return web.Response(status=404, text="This sign-in link is not valid or was already used. Click the button on the card again.")
        name = request.query.get("user")
        world = self.entra.world
        if name is None:  # the sandbox's stand-in for Entra's sign-in form: pick a demo user
            links = "".join(
                f'<li><a href="?signin={html.escape(request.query["signin"])}&user={html.escape(u.name)}">'
                f"{html.escape(u.display_name)}</a></li>"
                for u in world.users.values()
            )
            return web.Response(text=f"<h1>Sign in</h1><ul>{links}</ul>", content_type="text/html")
        if name not in world.users:
            return web.Response(status=404, text=f"No such demo user '{name}'.")
        pending.token = self._user_token(name)
        pending.code = f"{secrets.randbelow(10**6):06d}"  # the magic code people type (or Teams passes) back
        if "application/json" in request.headers.get("Accept", ""):
            return web.json_response({"code": pending.code})
        return web.Response(
            text=f"<h1>Signed in as {html.escape(world.user(name).display_name)}</h1><p>Your code: <b>{pending.code}</b></p>",
            content_type="text/html",
        )

    # -- helpers ---------------------------------------------------------------------------------
    def _user_token(self, name: str) -> str:
        # the OAuth connection signs the person in to the bot's own app for its access_as_user scope (the
        # registration file's oauthConnection); its token version follows the registration, like any other
        return self.entra.sso_token(name, client_id=self.entra.world.bot.client_id, interactive=True)

    def _token_response(self, key: tuple[str, str, str], token: str) -> dict[str, Any]:
        expiration = datetime.now(UTC) + timedelta(seconds=TOKEN_LIFETIME)
        return {"channelId": key[2], "connectionName": key[1], "token": token, "expiration": expiration.isoformat()}
