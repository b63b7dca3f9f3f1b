"""A loopback Microsoft Entra ID: OpenID discovery (v1 and v2), JWKS, the v2 token endpoint and Teams SSO tokens.

Speaks the wire formats of https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow:
`client_credentials` for app identities,
the On-Behalf-Of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`) with the error bodies the
real service returns (AADSTS codes, `suberror`, `claims`), and a sandbox-only endpoint that mints
the SSO token the Teams client would obtain for a user.

Access tokens come in the version the *resource* asks for, as Entra issues them: the resource app's
`api.requestedAccessTokenVersion` (null or 1: v1, 2: v2), whatever endpoint the client used; Microsoft's own
resources (Azure Resource Manager, Microsoft Graph, the Bot Framework) get v1 tokens
(https://learn.microsoft.com/entra/identity-platform/access-tokens#token-formats).
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
from .registrations import GRAPH_APP_ROLES
from .world import GRAPH_RESOURCE, TEAMS_CLIENT_ID, App, OboError, User, World

SSO_SCOPE = "access_as_user"  # the scope the Teams client requests for the bot
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3599
# The v1 issuer as Microsoft publishes it in the v1 discovery document, whatever host served the document
# (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-issuer).
V1_ISSUER = "https://sts.windows.net/{tid}/"
# checkMemberGroups for an application caller needs one of these sets of application permissions
# (https://learn.microsoft.com/graph/api/user-checkmembergroups, "Permissions" table).
CHECK_MEMBER_GROUPS_PERMISSIONS = (
    frozenset({"User.Read.All", "GroupMember.Read.All"}),
    frozenset({"User.Read.All", "Group.Read.All"}),
    frozenset({"Directory.Read.All"}),
)
# listing a group's transitive members as an application needs one of these application permissions
# (https://learn.microsoft.com/graph/api/group-list-transitivemembers, "Permissions" table)
LIST_MEMBERS_PERMISSIONS = (frozenset({"GroupMember.Read.All"}), frozenset({"Group.Read.All"}), frozenset({"Directory.Read.All"}))
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
                f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}"
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
        self.metadata_requests = 0  # discovery documents and JWKS served (or refused during an outage)
        self.unavailable = False  # an outage: discovery and keys answer 503, as a failing front end would

    # -- wiring ---------------------------------------------------------------------------
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

    def issuer(self, tenant_id: str, version: int = 2) -> str:
        """The `iss` of tokens of `version` for `tenant_id`: v2 names this authority, v1 is sts.windows.net."""
        return V1_ISSUER.format(tid=tenant_id) if version == 1 else f"{self.base_url}/{tenant_id}/v2.0"

    def token_version(self, resource: str) -> int:
        """The access token version for `resource`: its registration's, or v1 for Microsoft's own APIs."""
        app = self.world.app_by_resource(resource)
        return app.token_version if app else 1

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
            raise EntraError(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID '{client_id}'. "
                "Send an interactive authorization request for this user and resource.",
                suberror="consent_required",
            )
        now = int(self.clock())
        claims = self._access_claims(
            version=bot.token_version,
            resource_app=bot,
            requested=bot.app_id_uri or bot.client_id,
            tenant=user.tenant_id,
            client_id=client_id,
            client_auth="0",
            user=user,
            scp=scopes,
            now=now,
        )
        claims.update({"nbf": now + not_before_offset, "exp": now + lifetime})
        if audience:
            claims["aud"] = audience
        claims.update(extra or {})
        return self._mint(claims)

    def _access_claims(
        self,
        *,
        version: int,
        resource_app: App | None,
        requested: str,
        tenant: str,
        client_id: str,
        client_auth: str,
        now: int,
        user: User | None = None,
        object_id: str = "",
        scp: str | None = None,
        roles: list[str] | None = None,
    ) -> dict[str, Any]:
        """Access token claims in v1 or v2 form (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).

        v2: `aud` is always the API's client id, the client is `azp`/`azpacr`, the user `preferred_username`.
        v1: `aud` is the resource as requested (Application ID URI or client id), the client is `appid`/`appidacr`,
        the user `upn`/`unique_name`. Both: `iss`, `tid`, `oid`, `sub`, `scp` or `roles`, `ver`; `idtyp`
        (an optional claim) tells app-only from user tokens.
        """
        aud = resource_app.client_id if version == 2 and resource_app else requested
        claims: dict[str, Any] = {
            "aud": aud,
            "iss": self.issuer(tenant, version),
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "tid": tenant,
            "uti": uuid.uuid4().hex,
            "ver": "2.0" if version == 2 else "1.0",
        }
        if version == 2:
            claims.update({"azp": client_id, "azpacr": client_auth})
        else:
            claims.update({"appid": client_id, "appidacr": client_auth})
        if user is not None:
            claims.update(
                {
                    "idtyp": "user",
                    "oid": user.object_id,
                    "sub": _pairwise_sub(user.object_id, client_id),
                    "name": user.display_name,
                    "scp": scp or "",
                }
            )
            if version == 2:
                claims["preferred_username"] = user.upn
            else:
                claims.update({"upn": user.upn, "unique_name": user.upn, "amr": ["pwd"]})
        else:
            claims.update({"idtyp": "app", "oid": object_id, "sub": object_id})
            if roles:
                claims["roles"] = roles
        return claims

    def _mint(self, claims: dict[str, Any]) -> str:
        token = self.keys.active.sign(claims)
        self.issued.append(token)
        return token

    # -- handlers -------------------------------------------------------------------------
    def _metadata_gate(self, request: web.Request) -> str | web.Response:
        """The tenant of a metadata request, or the error answer (outage, unknown tenant)."""
        self.metadata_requests += 1
        if self.unavailable:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        tenant = request.match_info["tenant"]
        if tenant != "common" and tenant not in self.world.tenants:
            return _error(EntraError(400, "invalid_tenant", 90002, "Tenant not found."), self.base_url)
        return tenant

    async def _discovery_v2(self, request: web.Request) -> web.Response:
        tenant = self._metadata_gate(request)
        if isinstance(tenant, web.Response):
            return tenant
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

    async def _discovery_v1(self, request: web.Request) -> web.Response:
        """The v1 document: issuer https://sts.windows.net/{tid}/ and the keys at /common/discovery/keys, as
        Microsoft publishes them (https://login.microsoftonline.com/{tid}/.well-known/openid-configuration)."""
        tenant = self._metadata_gate(request)
        if isinstance(tenant, web.Response):
            return tenant
        base = f"{self.base_url}/{tenant}"
        return web.json_response(
            {
                "issuer": self.issuer(tenant, 1),
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "token_endpoint": f"{base}/oauth2/token",
                "jwks_uri": f"{self.base_url}/common/discovery/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox",
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        tenant = self._metadata_gate(request)
        if isinstance(tenant, web.Response):
            return tenant
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
            return _error(e, self.base_url)
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
        """Microsoft Graph `POST /v1.0/users/{id}/checkMemberGroups` for an application caller.

        Needs User.Read.All with GroupMember.Read.All or Group.Read.All, or Directory.Read.All; otherwise
        403 Authorization_RequestDenied (https://learn.microsoft.com/graph/api/user-checkmembergroups).
        """
        header = request.headers.get("Authorization", "")
        try:
            claims = self.keys.verify(header.removeprefix("Bearer "), audience=[self.base_url, self.base_url + "/"])
        except jwt.InvalidTokenError:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        held = set(claims.get("roles") or [])
        if not any(needed <= held for needed in CHECK_MEMBER_GROUPS_PERMISSIONS):
            return _graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        user = self.world.user_by_oid(request.match_info["user"])
        if user is None:
            return _graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.match_info['user']}' does not exist or one of its queried reference-property objects are not present.",
            )
        wanted = (await request.json()).get("groupIds") or []
        mine = {g.object_id for g in self.world.groups if user.name in g.members}
        return web.json_response({"value": [g for g in wanted if g in mine]})

    async def _transitive_members(self, request: web.Request) -> web.Response:
        """Microsoft Graph `GET /v1.0/groups/{id}/transitiveMembers` for an application caller: the group's members,
        nested ones included, each with its `@odata.type`; `$top` pages (1 to 999, default 100) with an
        `@odata.nextLink` when more remain; 404 Request_ResourceNotFound for an unknown group, 403 without one of
        GroupMember.Read.All, Group.Read.All or Directory.Read.All
        (https://learn.microsoft.com/graph/api/group-list-transitivemembers)."""
        header = request.headers.get("Authorization", "")
        try:
            claims = self.keys.verify(header.removeprefix("Bearer "), audience=[self.base_url, self.base_url + "/"])
        except jwt.InvalidTokenError:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
        held = set(claims.get("roles") or [])
        if not any(needed <= held for needed in LIST_MEMBERS_PERMISSIONS):
            return _graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        group = next((g for g in self.world.groups if g.object_id == request.match_info["group"]), None)
        if group is None:
            return _graph_error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{request.match_info['group']}' does not exist "
                "or one of its queried reference-property objects are not present.",
            )
        try:
            top = min(max(int(request.query.get("$top", "100")), 1), 999)
            skip = int(request.query.get("$skiptoken", "0"))
        except ValueError:
            return _graph_error(400, "Request_BadRequest", "Invalid value for $top or $skiptoken.")
        users = sorted((self.world.user(n) for n in group.members), key=lambda u: u.object_id)
        page = [
            {"@odata.type": "#microsoft.graph.user", "id": u.object_id, "displayName": u.display_name} for u in users[skip : skip + top]
        ]
        body: dict[str, object] = {"value": page}
        if skip + top < len(users):
            body["@odata.nextLink"] = f"{self.base_url}{request.path}?$top={top}&$skiptoken={skip + top}"
        return web.json_response(body)

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
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if secret is None or secret != app.secret:
            raise EntraError(
                401,
                "invalid_client",
                7000215,
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

    def _app_roles(self, client: App, resource: str, resource_app: App | None) -> list[str]:
        """The app roles `client` is assigned on `resource` that the resource defines (only those reach a token)."""
        if resource.rstrip("/") == self.base_url:  # Microsoft Graph: its published application permissions
            return sorted(client.api_roles.get(GRAPH_RESOURCE, set()) & GRAPH_APP_ROLES.keys())
        if resource_app is None:
            return sorted(client.api_roles.get(resource.rstrip("/"), set()))
        assigned = client.api_roles.get(resource_app.app_id_uri or "", set()) | client.api_roles.get(resource_app.client_id, set())
        defined = resource_app.registration.app_roles if resource_app.registration else {}
        return sorted(r for r in assigned if "Application" in defined.get(r, frozenset()))

    def _client_credentials(self, client: App, tenant: str, scope: str) -> dict[str, Any]:
        resource, permissions = self._resource(scope)
        if permissions != [".default"]:
            raise EntraError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        resource_app = self.world.app_by_resource(resource)
        claims = self._access_claims(
            version=self.token_version(resource),
            resource_app=resource_app,
            requested=resource,
            tenant=tenant,
            client_id=client.client_id,
            client_auth="1",
            now=int(self.clock()),
            object_id=client.object_id,
            roles=self._app_roles(client, resource, resource_app),
        )
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
                400,
                "invalid_grant",
                500133,
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
        token = self._mint(
            self._access_claims(
                version=self.token_version(resource),
                resource_app=self.world.app_by_resource(resource),
                requested=resource,
                tenant=tenant,
                client_id=client.client_id,
                client_auth="1",
                now=int(now),
                user=user,
                scp=" ".join(p for p in permissions if p != ".default") or "user_impersonation",
            )
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
