"""The v2 token endpoint of the Entra simulator: client authentication, `client_credentials` and On-Behalf-Of.

Wire formats of https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow (the OBO grant,
`urn:ietf:params:oauth:grant-type:jwt-bearer`, and its error bodies) and
https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (app identities).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web

from ..registrations import GRAPH_APP_ROLES
from ..world import GRAPH_RESOURCE, App, User
from .claims import access_claims, token_body
from .core import EntraCore
from .errors import OBO_ERRORS, EntraError, error_response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_OIDC_SCOPES = ("openid", "profile", "offline_access", "email")


def _no_resource_parameter(fields: dict[str, str]) -> None:
    """The v2 endpoint takes the resource in `scope` (`{resource}/.default`), not as `resource` (the v1 endpoint's
    parameter, and RFC 8707's that MCP clients send): Entra refuses it, "AADSTS901002: The 'resource' request parameter
    isn't supported." (https://learn.microsoft.com/entra/identity-platform/reference-error-codes), and where it is
    accepted it must match the scope, else AADSTS9010010 (observed since 2026:
    https://github.com/microsoft/powerbi-modeling-mcp/issues/68, https://github.com/punkpeye/mcp-remote/issues/217).
    Modelled as the refusal an MCP client meets when it sends its MCP server's URL there."""
    resource = fields.get("resource")
    if resource is None:
        return
    scoped = {s.rsplit("/", 1)[0].rstrip("/") for s in fields.get("scope", "").split() if "/" in s}
    if scoped != {resource.rstrip("/")}:
        raise EntraError(
            400,
            "invalid_request",
            9010010,
            "The resource parameter provided in the request doesn't match with the requested scopes.",
        )


class TokenEndpoint(EntraCore):
    """`POST /{tenant}/oauth2/v2.0/token`."""

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        fields = {k: str(v) for k, v in form.items()}
        try:
            tenant = self._tenant(request)
            if tenant is None:
                raise EntraError(400, "invalid_request", 90002, f"Tenant '{request.match_info['tenant']}' not found.")
            client = self._authenticate_client(request, fields, tenant)
            grant = fields.get("grant_type", "")
            _no_resource_parameter(fields)
            self.token_requests.append({"grant_type": grant, "client_id": client.client_id, "tenant": tenant})
            if grant == "client_credentials":
                body = self._client_credentials(client, tenant, fields.get("scope", ""))
            elif grant == JWT_BEARER and fields.get("requested_token_use") == "on_behalf_of":
                body = self._on_behalf_of(client, tenant, fields.get("assertion", ""), fields.get("scope", ""))
            else:
                raise EntraError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
        except EntraError as e:
            return error_response(e, self.base_url)
        return web.json_response(body)

    def _tenant(self, request: web.Request) -> str | None:
        tenant = request.match_info["tenant"]
        return tenant if tenant in self.world.tenants else None

    def _authenticate_client(self, request: web.Request, form: dict[str, str], tenant: str) -> App:
        """The client app, by its secret in the form (client_secret_post) or in Basic auth (client_secret_basic)."""
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
        wanted = [s for s in scope.split() if s not in _OIDC_SCOPES]
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
        """An app-only token for `{resource}/.default`, carrying the app roles the client holds there."""
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
        request = self.token_request(
            version=self.token_version(resource),
            resource_app=resource_app,
            requested=resource,
            tenant=tenant,
            client_id=client.client_id,
            client_auth="1",
            now=int(self.clock()),
        )
        claims = access_claims(request, object_id=client.object_id, roles=self._app_roles(client, resource, resource_app))
        return token_body(self.mint(claims))

    def _on_behalf_of(self, client: App, tenant: str, assertion: str, scope: str) -> dict[str, Any]:
        """A delegated token for the user of `assertion` (a token for the client's own API), for `scope`."""
        resource, permissions = self._resource(scope)
        now = self.clock()
        user = self._assertion_user(client, tenant, assertion, now)
        if user.obo_error is not None:
            raise OBO_ERRORS[user.obo_error](user, resource)
        request = self.token_request(
            version=self.token_version(resource),
            resource_app=self.world.app_by_resource(resource),
            requested=resource,
            tenant=tenant,
            client_id=client.client_id,
            client_auth="1",
            now=int(now),
        )
        scp = " ".join(p for p in permissions if p != ".default") or "user_impersonation"
        return token_body(self.mint(access_claims(request, user=user, scp=scp)), scope=scope)

    def _assertion_user(self, client: App, tenant: str, assertion: str, now: float) -> User:
        """The user of an OBO assertion, once its signature, lifetime, audience (the client) and tenant hold."""
        try:
            claims = self.keys.verify(assertion, options={"verify_aud": False, "verify_exp": False, "verify_nbf": False})
        except jwt.InvalidTokenError:
            raise EntraError(400, "invalid_grant", 50013, "Assertion failed signature validation.") from None
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
        return user
