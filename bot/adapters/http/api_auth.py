"""Who is calling the agents' API (`/api/plans`, `/api/operations`, `/mcp`): an Entra app-only token for the bot's API
holding the app role, from an app registered in API_CALLERS_FILE; 401 or 403 saying why not.

On `/mcp`, a 401 also names the protected-resource metadata (RFC 9728 5.1, as the MCP authorization specification
asks), and a 403 for a token without the role says `insufficient_scope` (RFC 6750 3.1).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ...config import ApiSettings
from ...domain.callers import ApiCaller, find_caller
from ...domain.plan import Plan, Source
from ..azure.tokens import TokenRejected
from .deps import TokenValidator


class ApiAuth:
    def __init__(self, validator: TokenValidator, api: ApiSettings) -> None:
        self.validator, self.api = validator, api

    async def caller(self, request: web.Request, resource_metadata: str | None = None) -> tuple[dict[str, Any], ApiCaller]:
        """The verified claims and the registered app behind them; 401/403 otherwise."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise unauthorized("a Bearer token for the bot's API is required", resource_metadata, presented=False)
        s = self.api
        try:
            claims: dict[str, Any] = await self.validator.validate(header[7:], list(s.audiences))
        except TokenRejected as e:
            raise unauthorized(e.reason, resource_metadata) from None
        # App-only tokens: a delegated token has `scp`, and `idtyp` (when the optional claim is on) says "user".
        # https://learn.microsoft.com/entra/identity-platform/access-tokens (validate ... app-only)
        if "scp" in claims or claims.get("idtyp", "app") != "app":
            raise forbidden("only application tokens (client credentials) may call this API; this token acts for a signed-in user")
        if s.api_role not in (claims.get("roles") or []):
            raise forbidden(f"the caller lacks the app role {s.api_role}", resource_metadata)
        app_id = str(claims.get("azp") or claims.get("appid") or "")  # v2: azp, v1: appid
        if s.api_callers is None:
            raise forbidden("no agent app may submit plans: API_CALLERS_FILE is not configured on the bot")
        caller = find_caller(s.api_callers, app_id)
        if caller is None:
            raise forbidden(
                f"app {app_id or '(no app id)'} is not registered in API_CALLERS_FILE; ask the bot's "
                f"administrator to add it with its scopes and operations"
            )
        return claims, caller


def submitted_by(plan: Plan, claims: dict[str, Any]) -> bool:
    """True if the plan came through this API from the service principal (and tenant) these claims identify."""
    who = plan.requested_by
    return plan.source is Source.API and who.object_id == str(claims.get("oid")) and who.tenant_id == str(claims.get("tid"))


def forbidden(message: str, resource_metadata: str | None = None) -> web.HTTPForbidden:
    headers = {}
    if resource_metadata:
        headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", resource_metadata="{resource_metadata}"'
    return web.HTTPForbidden(text=json_error(message), content_type="application/json", headers=headers)


def json_error(message: str) -> str:
    return json.dumps({"error": message})


def unauthorized(reason: str, resource_metadata: str | None = None, *, presented: bool = True) -> web.HTTPUnauthorized:
    """401 with the challenge RFC 6750 3 describes (no error code when no token was presented), naming the
    protected-resource metadata when there is one."""
    parts = [f'resource_metadata="{resource_metadata}"'] if resource_metadata else []
    if presented or not resource_metadata:
        parts += ['error="invalid_token"', f'error_description="{_quotable(reason)}"']
    return web.HTTPUnauthorized(
        text=json_error(reason),
        content_type="application/json",
        headers={"WWW-Authenticate": "Bearer " + ", ".join(parts)},
    )


def _quotable(text: str) -> str:
    """A reason inside a quoted-string (RFC 9110 5.6.4): no quote, backslash or control character."""
    return "".join(c for c in text if c not in '"\\' and c >= " ")
