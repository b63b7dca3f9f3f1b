"""Redis caches and SQL failover groups as Microsoft.Cache and Microsoft.Sql serve them.

Redis (https://learn.microsoft.com/rest/api/redis/redis): GET (`properties.provisioningState`), list by subscription,
"Force Reboot" (`POST {cache}/forceReboot` with `rebootType`: 200, "Reboot operation successfully enqueued"). A cache
that is not `Succeeded` (updating, scaling) refuses writes with 409 Conflict "... is busy processing a previous update
request ... Please try again later." (the Conflict "try again later" Azure/azure-service-operator#2008 retries on).
Failover groups (https://learn.microsoft.com/rest/api/sql/failover-groups): list servers by subscription, "List By
Server" (`GET {server}/failoverGroups`), GET on either server (`properties.replicationRole` of that server,
`partnerServers`), and "Failover" (`POST {server}/failoverGroups/{group}/failover`): "Fails over from the current
primary server to this server" (202, `Location` and `Azure-AsyncOperation`); sent to the primary there is nothing to
move, and it ends at once.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..estate import FailoverGroup, RedisCache, SqlServer
from .kit import RG, SUB, Arm, bad_request, find, json_body, listed, not_found, route
from .rbac import Caller
from .responses import arm_error

REDIS, SERVERS, GROUPS = "Microsoft.Cache/redis", "Microsoft.Sql/servers", "Microsoft.Sql/servers/failoverGroups"
REBOOT_TYPES = ("AllNodes", "PrimaryNode", "SecondaryNode")
_CACHE = rf"{RG}/microsoft\.cache/redis/(?P<name>[^/]+)"
_GROUP = rf"{RG}/microsoft\.sql/servers/(?P<name>[^/]+)/failovergroups/(?P<group>[^/]+)"


def cache_body(c: RedisCache) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "type": "Microsoft.Cache/Redis",
        "location": c.location,
        "properties": {
            "provisioningState": c.provisioning,
            "sku": {"name": "Premium", "family": "P", "capacity": 1},
            "hostName": f"{c.name}.redis.cache.windows.net",
            "replicasPerPrimary": 1,
        },
    }


def _cache(arm: Arm, caller: Caller, m: re.Match[str]) -> RedisCache | web.Response:
    found = find(arm.world.estate.caches, m["sub"], m["rg"], m["name"])
    if found is None:
        return arm.missing(m["sub"], m["rg"]) or not_found("Microsoft.Cache/Redis", m["name"], m["rg"])
    return arm.guard(caller, f"{REDIS}/read", found.id) or found


@route("GET", rf"{SUB}/microsoft\.cache/redis")
async def list_caches(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    caches = [c for c in listed(arm.world.estate.caches, m["sub"]) if arm.guard(caller, f"{REDIS}/read", c.id) is None]
    return web.json_response({"value": [cache_body(c) for c in caches]})


@route("GET", _CACHE)
async def get_cache(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _cache(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response(cache_body(found))


@route("POST", rf"{_CACHE}/forcereboot")
async def force_reboot(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _cache(arm, caller, m)
    if isinstance(found, web.Response):
        return found
    if refused := arm.guard(caller, f"{REDIS}/forceReboot/action", found.id):
        return refused
    sent = await json_body(request)
    kind = sent.get("rebootType") if isinstance(sent, dict) else None
    if kind not in REBOOT_TYPES:
        return bad_request("InvalidRequestBody", f"rebootType must be one of {', '.join(REBOOT_TYPES)}.")
    if found.provisioning != "Succeeded":
        return arm_error(
            409,
            "Conflict",
            f"The resource '{found.id}' is busy processing a previous update request or is undergoing system maintenance. "
            "As such, it is currently unable to accept the update request. Please try again later.",
        )
    arm.wrote(request, caller, found.id, "forceReboot", sent)
    found.reboots.append(str(kind))
    return web.json_response({"message": "Reboot operation successfully enqueued"})


def group_body(g: FailoverGroup, server: SqlServer) -> dict[str, Any]:
    partner = g.partner_of(server)
    return {
        "id": g.id_on(server),
        "name": g.name,
        "type": GROUPS,
        "location": server.location,
        "properties": {
            "replicationRole": g.role_of(server),
            "replicationState": "CATCH_UP",
            "readWriteEndpoint": {"failoverPolicy": "Manual"},
            "partnerServers": [{"id": partner.id, "location": partner.location, "replicationRole": g.role_of(partner)}],
        },
    }


def _server(arm: Arm, caller: Caller, m: re.Match[str]) -> SqlServer | web.Response:
    found = find(arm.world.estate.sql_servers, m["sub"], m["rg"], m["name"])
    if found is None:
        return arm.missing(m["sub"], m["rg"]) or not_found(SERVERS, m["name"], m["rg"])
    return found


def _group(arm: Arm, caller: Caller, m: re.Match[str]) -> tuple[SqlServer, FailoverGroup] | web.Response:
    server = _server(arm, caller, m)
    if isinstance(server, web.Response):
        return server
    group = next(
        (g for g in arm.world.estate.failover_groups if g.name.lower() == m["group"].lower() and server in (g.primary, g.secondary)), None
    )
    if group is None:
        return not_found(GROUPS, f"{server.name}/{m['group']}", m["rg"])
    return arm.guard(caller, f"{GROUPS}/read", group.id_on(server)) or (server, group)


@route("GET", rf"{SUB}/microsoft\.sql/servers")
async def list_servers(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    servers = [s for s in listed(arm.world.estate.sql_servers, m["sub"]) if arm.guard(caller, f"{SERVERS}/read", s.id) is None]
    return web.json_response({"value": [{"id": s.id, "name": s.name, "type": SERVERS, "location": s.location} for s in servers]})


@route("GET", rf"{RG}/microsoft\.sql/servers/(?P<name>[^/]+)/failovergroups")
async def list_groups(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    server = _server(arm, caller, m)
    if isinstance(server, web.Response):
        return server
    groups = [g for g in arm.world.estate.failover_groups if server in (g.primary, g.secondary)]
    return web.json_response(
        {"value": [group_body(g, server) for g in groups if arm.guard(caller, f"{GROUPS}/read", g.id_on(server)) is None]}
    )


@route("GET", _GROUP)
async def get_group(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _group(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response(group_body(found[1], found[0]))


@route("POST", rf"{_GROUP}/failover")
async def failover(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _group(arm, caller, m)
    if isinstance(found, web.Response):
        return found
    server, group = found
    if refused := arm.guard(caller, f"{GROUPS}/failover/action", group.id_on(server)):
        return refused
    if arm.busy(group):
        return arm_error(409, "FailoverGroupBusy", f"The failover group '{group.name}' is busy with another operation. Try again later.")

    def done() -> None:
        if group.secondary is server:
            group.primary, group.secondary = server, group.primary

    return arm.accept(request, caller, group, group.id_on(server), "failover", "Microsoft.Sql", server.location, done=done)


ROUTES = (list_caches, get_cache, force_reboot, list_servers, list_groups, get_group, failover)
