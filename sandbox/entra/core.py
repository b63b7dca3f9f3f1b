"""What every part of the Entra simulator shares: the world, the signing keys, the clock and how tokens are minted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..keys import KeySet
from ..world import App, World
from .claims import V1_ISSUER, TokenRequest


class EntraCore:
    """State and token minting; the routes (discovery, token endpoint, Graph) build on it."""

    def __init__(self, world: World, keys: KeySet, clock: Callable[[], float] = time.time) -> None:
        self.world, self.keys, self.clock = world, keys, clock
        self.base_url = ""  # set by the runner once the port is known
        self.token_requests: list[dict[str, str]] = []  # grant types and clients, never secrets
        self.issued: list[str] = []  # every token minted, so tests can prove none leaks anywhere
        self.metadata_requests = 0  # discovery documents and JWKS served (or refused during an outage)
        self.unavailable = False  # an outage: discovery and keys answer 503, as a failing front end would

    def issuer(self, tenant_id: str, version: int = 2) -> str:
        """The `iss` of tokens of `version` for `tenant_id`: v2 names this authority, v1 is sts.windows.net."""
        return V1_ISSUER.format(tid=tenant_id) if version == 1 else f"{self.base_url}/{tenant_id}/v2.0"

    def token_version(self, resource: str) -> int:
        """The access token version for `resource`: its registration's, or v1 for Microsoft's own APIs."""
        app = self.world.app_by_resource(resource)
        return app.token_version if app else 1

    def token_request(
        self, *, resource_app: App | None, requested: str, tenant: str, client_id: str, client_auth: str, now: int, version: int
    ) -> TokenRequest:
        """A token request as the claims builder needs it, with this authority's issuer for `version`."""
        return TokenRequest(version, resource_app, requested, self.issuer(tenant, version), tenant, client_id, client_auth, now)

    def mint(self, claims: dict[str, Any]) -> str:
        """Sign `claims` with the active key, and remember the token (tests prove none leaks)."""
        token = self.keys.active.sign(claims)
        self.issued.append(token)
        return token
