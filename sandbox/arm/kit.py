"""What the ARM simulator's resource providers share: routes, how ARM shows a resource, its common refusals."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

from .rbac import Caller
from .responses import arm_error

RG = r"/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers"
SUB = r"/subscriptions/(?P<sub>[^/]+)/providers"


class Arm(Protocol):
    """The simulator as a provider uses it (sandbox/arm/simulator.py)."""

    world: Any
    operations: dict[str, Any]

    def guard(self, caller: Caller, action: str, scope: str) -> web.Response | None: ...
    def missing(self, sub: str, rg: str | None) -> web.Response | None: ...
    def busy(self, target: object) -> bool: ...
    def wrote(self, request: web.Request, caller: Caller, resource_id: str, action: str, body: Any = None) -> None: ...
    def accept(
        self, request: web.Request, caller: Caller, target: object, resource_id: str, action: str, namespace: str, location: str, **kw: Any
    ) -> web.Response: ...


Handler = Callable[[Arm, web.Request, Caller, re.Match[str]], Awaitable[web.Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, pattern: str) -> Callable[[Handler], Route]:
    """A route for a path pattern (matched case-insensitively, as ARM matches paths)."""

    def wrap(handler: Handler) -> Route:
        return Route(method, re.compile(f"^{pattern}$", re.IGNORECASE), handler)

    return wrap


class Located(Protocol):
    subscription_id: str
    resource_group: str
    name: str


R = TypeVar("R", bound=Located)


def find(items: Iterable[R], sub: str, rg: str, name: str) -> R | None:
    """The resource so named (ARM compares names case-insensitively)."""
    wanted = (sub.lower(), rg.lower(), name.lower())
    return next((r for r in items if (r.subscription_id.lower(), r.resource_group.lower(), r.name.lower()) == wanted), None)


def listed(items: Iterable[R], sub: str, rg: str | None = None) -> list[R]:
    return [r for r in items if r.subscription_id.lower() == sub.lower() and (rg is None or r.resource_group.lower() == rg.lower())]


def not_found(type_name: str, name: str, rg: str) -> web.Response:
    """404 ResourceNotFound, worded as ARM words it (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-not-found)."""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{type_name}/{name}' under resource group '{rg}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix",
    )


def precondition_failed() -> web.Response:
    """412 for an If-Match ETag that no longer matches (the ARM RPC's optimistic concurrency:
    https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/resource-api-reference.md#etags)."""
    return arm_error(
        412, "PreconditionFailed", "The resource has changed since it was read: the ETag in the If-Match header does not match."
    )


def bad_request(code: str, message: str) -> web.Response:
    return arm_error(400, code, message)


async def json_body(request: web.Request) -> Any:
    """The request's JSON body (None when there is none or it is not JSON)."""
    if not request.can_read_body:
        return None
    try:
        return await request.json()
    except ValueError:
        return None


def whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
