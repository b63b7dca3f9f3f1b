"""The Entra simulator's aiohttp application: its routes, the sandbox controls and Teams SSO tokens."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..world import TEAMS_CLIENT_ID, OboError
from .claims import access_claims
from .discovery import DiscoveryRoutes
from .errors import EntraError, consent_required, error_response
from .grants import TokenEndpoint
from .graph import GraphRoutes

SSO_SCOPE = "access_as_user"  # the scope the Teams client requests for the bot


class EntraSimulator(DiscoveryRoutes, TokenEndpoint, GraphRoutes):
    """aiohttp application for one or more tenants of the demo world."""

    def app(self) -> web.Application:
        app = web.Application()
        # Both discovery documents, as Entra serves them
        # (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery_v2)
        app.router.add_get("/{tenant}/.well-known/openid-configuration", self._discovery_v1)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        app.router.add_get("/{tenant}/discovery/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/sandbox/users", self._list_users)
        app.router.add_post("/sandbox/users/{name}/sso-token", self._sso_token)
        app.router.add_post("/sandbox/users/{name}/obo-error", self._set_obo_error)
        app.router.add_post("/sandbox/keys/rotate", self._rotate)
        app.router.add_post("/v1.0/users/{user}/checkMemberGroups", self._check_member_groups)
        app.router.add_get("/v1.0/groups/{group}/transitiveMembers", self._transitive_members)
        return app

    # -- sandbox controls (also reachable over HTTP) --------------------------------------
    def set_obo_error(self, user_name: str, mode: OboError | None) -> None:
        """Make the next On-Behalf-Of exchanges for `user_name` fail in `mode` (None clears it)."""
        self.world.user(user_name).obo_error = mode

    def sso_token(
        self,
        user_name: str,
        *,
        audience: str | None = None,
        scopes: str = "access_as_user",
        lifetime: int = 3600,
        not_before_offset: int = 0,
        client_id: str = TEAMS_CLIENT_ID,
        interactive: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The token Teams SSO would obtain for `user_name` for the bot's API, as the client `client_id`.

        Teams gets it silently only if the bot's registration pre-authorizes that client for the scope
        (https://learn.microsoft.com/microsoftteams/platform/tabs/how-to/authentication/tab-sso-register-aad);
        otherwise Entra answers AADSTS65001 (consent required). `interactive` is a sign-in where the person saw
        and accepted the consent prompt (the token service's sign-in page), so no pre-authorization is needed.
        `audience` forges another audience (tests).
        """
        user, bot = self.world.user(user_name), self.world.bot
        registration = bot.registration
        # Teams asks for the bot's access_as_user scope; `scopes` only sets the `scp` claim (forgeries in tests)
        if registration is None or not (interactive or registration.is_pre_authorized(client_id, SSO_SCOPE)):
            raise consent_required(client_id)
        now = int(self.clock())
        request = self.token_request(
            version=bot.token_version,
            resource_app=bot,
            requested=bot.app_id_uri or bot.client_id,
            tenant=user.tenant_id,
            client_id=client_id,
            client_auth="0",
            now=now,
        )
        claims = access_claims(request, user=user, scp=scopes)
        claims.update({"nbf": now + not_before_offset, "exp": now + lifetime})
        if audience:
            claims["aud"] = audience
        claims.update(extra or {})
        return self.mint(claims)

    # -- sandbox HTTP controls ------------------------------------------------------------
    async def _list_users(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "name": u.name,
                    "displayName": u.display_name,
                    "objectId": u.object_id,
                    "tenantId": u.tenant_id,
                    "userPrincipalName": u.upn,
                    "teamsId": u.teams_id,
                }
                for u in self.world.users.values()
            ]
        )

    async def _sso_token(self, request: web.Request) -> web.Response:
        """Plays the Teams client asking Entra for the bot's token (`clientId` picks another client)."""
        name = request.match_info["name"]
        if name not in self.world.users:
            return web.json_response({"error": f"no such user '{name}'"}, status=404)
        options = await request.json() if request.can_read_body else {}
        try:
            token = self.sso_token(
                name,
                audience=options.get("audience"),
                scopes=options.get("scp", "access_as_user"),
                lifetime=int(options.get("lifetime", 3600)),
                client_id=str(options.get("clientId", TEAMS_CLIENT_ID)),
            )
        except EntraError as e:
            return error_response(e, self.base_url)
        return web.json_response({"token": token, "token_type": "Bearer"})

    async def _set_obo_error(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.world.users:
            return web.json_response({"error": f"no such user '{name}'"}, status=404)
        mode = (await request.json()).get("mode")
        try:
            self.set_obo_error(name, OboError(mode) if mode else None)
        except ValueError:
            return web.json_response({"error": f"mode must be one of {[m.value for m in OboError]} or null"}, status=400)
        return web.json_response({"user": name, "mode": mode})
