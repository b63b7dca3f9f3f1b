"""What the ARM simulator's resource providers share: routes, how ARM shows a resource, its common refusals."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

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
T = TypeVar("T")
OnHandler = Callable[[Arm, web.Request, Caller, re.Match[str], T], Awaitable[web.Response]]


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


def on_found(
    method: str, pattern: str, lookup: Callable[[Arm, Caller, re.Match[str]], T | web.Response]
) -> Callable[[OnHandler[T]], Route]:
    """A route whose handler is given what `lookup` finds for the path; when it answers instead (404, 403), that answer."""

    def wrap(handler: OnHandler[T]) -> Route:
        async def found_first(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
            found = lookup(arm, caller, m)
            return found if isinstance(found, web.Response) else await handler(arm, request, caller, m, found)

        return route(method, pattern)(found_first)

    return wrap


class Located(Protocol):
    subscription_id: str
    resource_group: str
    name: str
    location: str

    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=Located)


def find(items: Iterable[R], sub: str, rg: str, name: str) -> R | None:
    """The resource so named (ARM compares names case-insensitively)."""
    wanted = (sub.lower(), rg.lower(), name.lower())
    return next((r for r in items if (r.subscription_id.lower(), r.resource_group.lower(), r.name.lower()) == wanted), None)


def listed(items: Iterable[R], sub: str, rg: str | None = None) -> list[R]:
    return [r for r in items if r.subscription_id.lower() == sub.lower() and (rg is None or r.resource_group.lower() == rg.lower())]


@dataclass(frozen=True)
class Collection(Generic[R]):
    """A kind of top-level resource a provider serves: its type (as RBAC actions and 404s name it), its path under
    `providers/`, and where the estate keeps it. ARM lists it by subscription and GETs one by name, each read needing
    `<type>/read` (https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations); a list
    leaves out what the caller may not read."""

    type_name: str
    path: str  # the provider path, as a regex: r"microsoft\.web/sites"
    items: Callable[[Any], Iterable[R]]  # the estate -> its resources of this kind
    shown: str | None = None  # the type as a 404 names it, where that differs (Microsoft.Cache/Redis)

    @property
    def item(self) -> str:
        """The path pattern of one resource (its name in `name`)."""
        return rf"{RG}/{self.path}/(?P<name>[^/]+)"

    def find(self, arm: Arm, m: re.Match[str]) -> R | web.Response:
        """The resource the path names, or the 404 for the first missing level (no read check)."""
        found = find(self.items(arm.world.estate), m["sub"], m["rg"], m["name"])
        if found is None:
            return arm.missing(m["sub"], m["rg"]) or not_found(self.shown or self.type_name, m["name"], m["rg"])
        return found

    def lookup(self, arm: Arm, caller: Caller, m: re.Match[str]) -> R | web.Response:
        """The resource the path names, if the caller may read it (else the 404 or 403 ARM answers)."""
        found = self.find(arm, m)
        if isinstance(found, web.Response):
            return found
        return arm.guard(caller, f"{self.type_name}/read", found.id) or found

    def on(self, method: str, tail: str = "") -> Callable[[OnHandler[R]], Route]:
        """A route on one resource of this kind (its path, then `tail`): the handler is given the resource once it is
        found and the caller may read it; otherwise ARM's 404 or 403 answers."""

        return on_found(method, f"{self.item}{tail}", self.lookup)

    def list_route(self, body: Callable[[R], dict[str, Any]]) -> Route:
        """GET the subscription's resources of this kind, those the caller may read."""

        async def handler(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
            mine = listed(self.items(arm.world.estate), m["sub"])
            return web.json_response({"value": [body(r) for r in mine if arm.guard(caller, f"{self.type_name}/read", r.id) is None]})

        return route("GET", rf"{SUB}/{self.path}")(handler)

    def get_route(self, body: Callable[[R], dict[str, Any]]) -> Route:
        """GET one resource by name."""

        async def handler(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: R) -> web.Response:
            return web.json_response(body(found))

        return self.on("GET")(handler)

    def routes(self, body: Callable[[R], dict[str, Any]]) -> tuple[Route, Route]:
        """The list and the get route, answering each resource as `body` shows it."""
        return self.list_route(body), self.get_route(body)


def brief(r: Located, type_name: str) -> dict[str, Any]:
    """A resource as a list shows it where the simulator keeps no more of it."""
    return {"id": r.id, "name": r.name, "type": type_name, "location": r.location}


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
