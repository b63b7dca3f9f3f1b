"""OpenID Connect discovery (v1 and v2) and the JWKS of the Entra simulator.

Both discovery documents, as Entra serves them
(https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri).
"""

from __future__ import annotations

from aiohttp import web

from .core import EntraCore
from .errors import EntraError, error_response


class DiscoveryRoutes(EntraCore):
    """`/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/.well-known/openid-configuration` and the keys."""

    def _metadata_gate(self, request: web.Request) -> str | web.Response:
        """The tenant of a metadata request, or the error answer (outage, unknown tenant)."""
        self.metadata_requests += 1
        if self.unavailable:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        tenant = request.match_info["tenant"]
        if tenant != "common" and tenant not in self.world.tenants:
            return error_response(EntraError(400, "invalid_tenant", 90002, "Tenant not found."), self.base_url)
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

    async def _rotate(self, request: web.Request) -> web.Response:
        """Sandbox control: publish a new signing key in front of the old ones."""
        return web.json_response({"kid": self.keys.rotate().kid})
