"""Who calls the ARM simulator and what they may do: bearer token checks and Azure RBAC per scope."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

import jwt
from aiohttp import web

from ..keys import KeySet
from ..world import ROLE_DEFINITIONS, World
from .responses import arm_error, unauthorized, utcnow


@dataclass
class Caller:
    oid: str
    display: str  # what AuthorizationFailed names: the upn for users, the app id for apps


def authenticate(request: web.Request, keys: KeySet, audiences: set[str], issuer_base: str, world: World) -> Caller | web.Response:
    """The caller of a request with a valid token for ARM from the subscription's tenant, or ARM's 401."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    try:
        claims = keys.verify(header[7:], audience=sorted(audiences), options={"require": ["exp", "aud", "iss"]})
    except jwt.ExpiredSignatureError:
        return unauthorized(
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time is earlier than current UTC time '{utcnow()}'.",
        )
    except jwt.InvalidTokenError as e:
        return unauthorized("InvalidAuthenticationToken", f"The access token is invalid. {type(e).__name__}.")
    tid = str(claims.get("tid", ""))
    # ARM's own registration gets v1 tokens (iss sts.windows.net); it accepts v2 ones too
    # (https://learn.microsoft.com/entra/identity-platform/access-tokens#token-formats)
    if claims.get("iss") not in (f"{issuer_base}/{tid}/v2.0", f"https://sts.windows.net/{tid}/"):
        return unauthorized("InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.")
    if tid != world.home_tenant_id:
        return unauthorized(
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
            f"associated with this subscription. Please use the authority (URL) "
            f"'{issuer_base}/{world.home_tenant_id}' to get the token.",
        )
    oid = str(claims.get("oid", ""))
    display = str(claims.get("upn") or claims.get("appid") or oid)
    return Caller(oid=oid, display=display)


def allowed(world: World, caller: Caller, action: str, resource_id: str) -> bool:
    """Whether a role assigned to `caller` at `resource_id` or above grants `action` (wildcards as RBAC reads them)."""
    rid = resource_id.lower()
    for a in world.role_assignments:
        scope = a.scope.lower().rstrip("/")
        if a.principal_id != caller.oid or not (rid == scope or rid.startswith(scope + "/")):
            continue
        if any(fnmatchcase(action.lower(), p.lower()) for p in ROLE_DEFINITIONS.get(a.role, ())):
            return True
    return False


def authorization_failed(caller: Caller, action: str, scope: str) -> web.Response:
    """403 AuthorizationFailed, worded as ARM words it."""
    return arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{caller.display}' with object id '{caller.oid}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
        {"x-ms-failure-cause": "gateway"},
    )
