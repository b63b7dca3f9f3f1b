"""The claims of the access tokens the Entra simulator mints, in v1 or v2 form, and the token endpoint's answer.

https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference: v2 tokens name the API by its
client id in `aud`, the client in `azp`/`azpacr` and the user in `preferred_username`; v1 tokens carry the resource
as requested in `aud`, the client in `appid`/`appidacr` and the user in `upn`/`unique_name`. Both carry `iss`,
`tid`, `oid`, `sub`, `scp` or `roles` and `ver`; `idtyp` (an optional claim) tells app-only from user tokens.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from ..world import App, User

TOKEN_LIFETIME = 3599
# The v1 issuer as Microsoft publishes it in the v1 discovery document, whatever host served the document
# (https://learn.microsoft.com/entra/identity-platform/access-tokens#validate-the-issuer).
V1_ISSUER = "https://sts.windows.net/{tid}/"


@dataclass(frozen=True)
class TokenRequest:
    """Who asks for a token, for which resource, in which token version."""

    version: int  # 1 or 2: the resource's requestedAccessTokenVersion
    resource_app: App | None  # the resource's registration, None for Microsoft's own APIs
    requested: str  # the resource as the client named it (Application ID URI or client id)
    issuer: str
    tenant: str
    client_id: str
    client_auth: str  # "0" public client, "1" client secret
    now: int


def access_claims(
    request: TokenRequest, *, user: User | None = None, object_id: str = "", scp: str | None = None, roles: list[str] | None = None
) -> dict[str, Any]:
    """Access token claims for a user (delegated, `scp`) or for an app (app-only, `roles`)."""
    claims = {**_common_claims(request), **_client_claims(request)}
    if user is not None:
        claims.update(_user_claims(request, user, scp))
    else:
        claims.update(_app_claims(object_id, roles))
    return claims


def _common_claims(request: TokenRequest) -> dict[str, Any]:
    """What every token carries: v2 names the API by client id in `aud`, v1 the resource as requested."""
    v2 = request.version == 2
    return {
        "aud": request.resource_app.client_id if v2 and request.resource_app else request.requested,
        "iss": request.issuer,
        "iat": request.now,
        "nbf": request.now,
        "exp": request.now + TOKEN_LIFETIME,
        "tid": request.tenant,
        "uti": uuid.uuid4().hex,
        "ver": "2.0" if v2 else "1.0",
    }


def _client_claims(request: TokenRequest) -> dict[str, str]:
    """The client that asked: `azp`/`azpacr` in v2, `appid`/`appidacr` in v1."""
    if request.version == 2:
        return {"azp": request.client_id, "azpacr": request.client_auth}
    return {"appid": request.client_id, "appidacr": request.client_auth}


def _user_claims(request: TokenRequest, user: User, scp: str | None) -> dict[str, Any]:
    """A delegated token's person: `preferred_username` in v2, `upn`/`unique_name` in v1; `sub` is pairwise."""
    claims: dict[str, Any] = {
        "idtyp": "user",
        "oid": user.object_id,
        "sub": pairwise_sub(user.object_id, request.client_id),
        "name": user.display_name,
        "scp": scp or "",
    }
    if request.version == 2:
        claims["preferred_username"] = user.upn
    else:
        claims.update({"upn": user.upn, "unique_name": user.upn, "amr": ["pwd"]})
    return claims


def _app_claims(object_id: str, roles: list[str] | None) -> dict[str, Any]:
    """An app-only token: the service principal is `oid` and `sub`; its app roles, if any, in `roles`."""
    claims: dict[str, Any] = {"idtyp": "app", "oid": object_id, "sub": object_id}
    if roles:
        claims["roles"] = roles
    return claims


def pairwise_sub(oid: str, client_id: str) -> str:
    """`sub` is unique per user and client (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference)."""
    return base64.urlsafe_b64encode(uuid.uuid5(uuid.UUID(oid), client_id).bytes).decode().rstrip("=")


def token_body(access_token: str, scope: str | None = None) -> dict[str, Any]:
    """The token endpoint's success answer (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow#success-response-example)."""
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": access_token,
    }
    if scope:
        body["scope"] = scope
    return body
