"""A loopback Microsoft Entra ID: OpenID discovery, JWKS, the v2 token endpoint and Teams SSO tokens.

Speaks the wire formats in reference/protocols.md §2: `client_credentials` for app identities,
the On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`) with the error bodies the
real service returns (AADSTS codes, `suberror`, `claims`), and a sandbox-only endpoint that mints
the SSO token the Teams client would obtain for a user.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from .keys import KeySet
from .world import GRAPH_RESOURCE, TEAMS_CLIENT_ID, App, OboError, User, World

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3599
MFA_CLAIMS = json.dumps({"access_token": {"capolids": {"essential": True, "values": [str(uuid.uuid5(uuid.NAMESPACE_URL, "mfa-policy"))]}}})


class EntraError(Exception):
    """An STS error answer: HTTP status, OAuth `error`, AADSTS code and extra fields."""

    def __init__(self, status: int, error: str, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message, self.extra = status, error, code, message, extra

    def body(self, base_url: str) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{base_url}/error?code={self.code}",
            **self.extra,
        }


_OBO_ERRORS: dict[OboError, Callable[[User, str], EntraError]] = {
    OboError.MFA_REQUIRED: lambda user, resource: EntraError(
        400,
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new "
        f"location, you must use multi-factor authentication to access '{resource}'.",
        suberror="basic_action",
        claims=MFA_CLAIMS,
    ),
    OboError.CONSENT_REQUIRED: lambda user, resource: EntraError(
        400,
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application with ID "
        f"'{resource}'. Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    ),
    OboError.INVALID_ASSERTION: lambda user, resource: EntraError(
        400,
        "invalid_grant",
        500133,
        "Assertion is not within its valid time range. Ensure that the access token is not expired "
        "before using it for user assertion, or request a new token.",
    ),
    OboError.ACCOUNT_DISABLED: lambda user, resource: EntraError(
        400, "invalid_grant", 50057, f"The user account is disabled. User: {user.upn}."
    ),
}


class EntraSimulator:
    """aiohttp application for one or more tenants of the demo world."""

    def __init__(self, world: World, keys: KeySet, clock: Callable[[], float] = time.time) -> None:
        self.world, self.keys, self.clock = world, keys, clock
        self.base_url = ""  # set by the runner once the port is known
        self.token_requests: list[dict[str, str]] = []  # grant types and clients, never secrets
        self.issued: list[str] = []  # every token minted, so tests can prove none leaks anywhere

    # -- wiring ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._jwks)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/sandbox/users", self._list_users)
        app.router.add_post("/sandbox/users/{name}/sso-token", self._sso_token)
        app.router.add_post("/sandbox/users/{name}/obo-error", self._set_obo_error)
        app.router.add_post("/sandbox/keys/rotate", self._rotate)
        app.router.add_post("/v1.0/users/{user}/checkMemberGroups", self._check_member_groups)
        return app

    def issuer(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

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
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The token Teams SSO would hand the bot for `user_name` (audience: the bot's app id URI)."""
        user = self.world.user(user_name)
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": audience or self.world.bot.app_id_uri,
            "iss": self.issuer(user.tenant_id),
            "iat": now,
            "nbf": now + not_before_offset,
            "exp": now + lifetime,
            "azp": TEAMS_CLIENT_ID,
            "azpacr": "0",
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.upn,
            "scp": scopes,
            "sub": _pairwise_sub(user.object_id, TEAMS_CLIENT_ID),
            "tid": user.tenant_id,
            "uti": uuid.uuid4().hex,
            "ver": "2.0",
        }
        claims.update(extra or {})
        return self._mint(claims)

    def _mint(self, claims: dict[str, Any]) -> str:
        token = self.keys.active.sign(claims)
        self.issued.append(token)
        return token

    # -- handlers -------------------------------------------------------------------------
    async def _discovery(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        if tenant is None:
            return _error(EntraError(400, "invalid_tenant", 90002, "Tenant not found."), self.base_url)
        base = f"{self.base_url}/{tenant}"
        return web.json_response(
            {
                "issuer": self.issuer(tenant),
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        if self._tenant(request) is None:
            return _error(EntraError(400, "invalid_tenant", 90002, "Tenant not found."), self.base_url)
        return web.json_response(self.keys.jwks())

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        fields = {k: str(v) for k, v in form.items()}
        try:
            tenant = self._tenant(request)
            if tenant is None:
                raise EntraError(400, "invalid_request", 90002, f"Tenant '{request.match_info['tenant']}' not found.")
            client = self._authenticate_client(request, fields, tenant)
            grant = fields.get("grant_type", "")
            self.token_requests.append({"grant_type": grant, "client_id": client.client_id, "tenant": tenant})
            if grant == "client_credentials":
                body = self._client_credentials(client, tenant, fields.get("scope", ""))
            elif grant == JWT_BEARER and fields.get("requested_token_use") == "on_behalf_of":
                body = self._on_behalf_of(client, tenant, fields.get("assertion", ""), fields.get("scope", ""))
            else:
                raise EntraError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
        except EntraError as e:
            return _error(e, self.base_url)
        return web.json_response(body)

    async def _list_users(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"name": u.name, "displayName": u.display_name, "objectId": u.object_id, "tenantId": u.tenant_id,
                 "userPrincipalName": u.upn, "teamsId": u.teams_id}
                for u in self.world.users.values()
            ]
        )

    async def _sso_token(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.world.users:
            return web.json_response({"error": f"no such user '{name}'"}, status=404)
        options = await request.json() if request.can_read_body else {}
        token = self.sso_token(
            name,
            audience=options.get("audience"),
            scopes=options.get("scp", "access_as_user"),
            lifetime=int(options.get("lifetime", 3600)),
        )
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

    async def _check_member_groups(self, request: web.Request) -> web.Response:
        """Microsoft Graph `POST /v1.0/users/{id}/checkMemberGroups` (app permission GroupMember.Read.All)."""
        header = request.headers.get("Authorization", "")
        try:
            claims = self.keys.verify(header.removeprefix("Bearer "), audience=[self.base_url, self.base_url + "/"])
        except jwt.InvalidTokenError:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        if "GroupMember.Read.All" not in (claims.get("roles") or []):
            return _graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        user = self.world.user_by_oid(request.match_info["user"])
        if user is None:
            return _graph_error(404, "Request_ResourceNotFound",
                                f"Resource '{request.match_info['user']}' does not exist or one of its queried reference-property "
                                "objects are not present.")
        wanted = (await request.json()).get("groupIds") or []
        mine = {g.object_id for g in self.world.groups if user.name in g.members}
        return web.json_response({"value": [g for g in wanted if g in mine]})

    async def _rotate(self, request: web.Request) -> web.Response:
        return web.json_response({"kid": self.keys.rotate().kid})

    # -- grants ---------------------------------------------------------------------------
    def _tenant(self, request: web.Request) -> str | None:
        tenant = request.match_info["tenant"]
        return tenant if tenant in self.world.tenants else None

    def _authenticate_client(self, request: web.Request, form: dict[str, str], tenant: str) -> App:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        app = self.world.app_by_client_id(client_id)
        if app is None or app.tenant_id != tenant:
            raise EntraError(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if secret is None or secret != app.secret:
            raise EntraError(
                401, "invalid_client", 7000215,
                f"Invalid client secret provided. Ensure the secret being sent in the request is the client "
                f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        return app

    def _resource(self, scope: str) -> tuple[str, list[str]]:
        """Split a v2 scope string into (resource, [permission names]); openid & co are dropped."""
        wanted = [s for s in scope.split() if s not in ("openid", "profile", "offline_access", "email")]
        if not wanted:
            raise EntraError(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid.")
        resources = {s.rsplit("/", 1)[0] for s in wanted}
        if len(resources) != 1 or not all("/" in s for s in wanted):
            raise EntraError(400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' is not valid: '{scope}'.")
        return resources.pop(), [s.rsplit("/", 1)[1] for s in wanted]

    def _client_credentials(self, client: App, tenant: str, scope: str) -> dict[str, Any]:
        resource, permissions = self._resource(scope)
        if permissions != [".default"]:
            raise EntraError(
                400, "invalid_scope", 1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": self.issuer(tenant),
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "appid": client.client_id, "azp": client.client_id,
            "idtyp": "app", "oid": client.object_id, "sub": client.object_id,
            "tid": tenant, "ver": "2.0", "uti": uuid.uuid4().hex,
        }
        key = GRAPH_RESOURCE if resource.rstrip("/") == self.base_url else resource.rstrip("/")
        roles = sorted(client.api_roles.get(key, set()))
        if roles:
            claims["roles"] = roles
        return _token_body(self._mint(claims))

    def _on_behalf_of(self, client: App, tenant: str, assertion: str, scope: str) -> dict[str, Any]:
        resource, permissions = self._resource(scope)
        try:
            claims = self.keys.verify(assertion, options={"verify_aud": False, "verify_exp": False, "verify_nbf": False})
        except jwt.InvalidTokenError:
            raise EntraError(400, "invalid_grant", 50013, "Assertion failed signature validation.") from None
        now = self.clock()
        if float(claims.get("exp", 0)) < now:
            raise EntraError(
                400, "invalid_grant", 500133,
                f"Assertion is not within its valid time range. Current time: {datetime.fromtimestamp(now, UTC):%Y-%m-%dT%H:%M:%S}Z, "
                f"expiry time of assertion {datetime.fromtimestamp(float(claims.get('exp', 0)), UTC):%Y-%m-%dT%H:%M:%S}Z.",
            )
        if claims.get("aud") not in (client.client_id, client.app_id_uri):
            raise EntraError(400, "invalid_grant", 50013, "Assertion audience does not match the Client app presenting the assertion.")
        if claims.get("tid") != tenant:
            raise EntraError(400, "invalid_grant", 50013, "Assertion contains an invalid tenant.")
        user = self.world.user_by_oid(str(claims.get("oid")))
        if user is None:
            raise EntraError(400, "invalid_grant", 50034, "The user account does not exist in the directory.")
        if user.obo_error is not None:
            raise _OBO_ERRORS[user.obo_error](user, resource)
        issued = int(now)
        token = self._mint(
            {
                "aud": resource,
                "iss": self.issuer(tenant),
                "iat": issued, "nbf": issued, "exp": issued + TOKEN_LIFETIME,
                "appid": client.client_id, "azp": client.client_id,
                "idtyp": "user", "oid": user.object_id, "sub": _pairwise_sub(user.object_id, client.client_id),
                "tid": tenant, "name": user.display_name, "upn": user.upn, "unique_name": user.upn,
                "scp": " ".join(p for p in permissions if p != ".default") or "user_impersonation",
                "ver": "2.0", "uti": uuid.uuid4().hex,
            }
        )
        return _token_body(token, scope=scope)


def _token_body(access_token: str, scope: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": access_token,
    }
    if scope:
        body["scope"] = scope
    return body


def _pairwise_sub(oid: str, client_id: str) -> str:
    return base64.urlsafe_b64encode(uuid.uuid5(uuid.UUID(oid), client_id).bytes).decode().rstrip("=")


def _graph_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _error(error: EntraError, base_url: str) -> web.Response:
    return web.json_response(error.body(base_url), status=error.status)
