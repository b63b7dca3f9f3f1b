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
from .kit import Arm, Collection, bad_request, brief, json_body, not_found, on_found, route
from .rbac import Caller
from .responses import arm_error

REDIS, SERVERS, GROUPS = "Microsoft.Cache/redis", "Microsoft.Sql/servers", "Microsoft.Sql/servers/failoverGroups"
REBOOT_TYPES = ("AllNodes", "PrimaryNode", "SecondaryNode")
CACHE = Collection[RedisCache](REDIS, r"microsoft\.cache/redis", lambda estate: estate.caches, shown="Microsoft.Cache/Redis")
SERVER = Collection[SqlServer](SERVERS, r"microsoft\.sql/servers", lambda estate: estate.sql_servers)
_GROUP = rf"{SERVER.item}/failovergroups/(?P<group>[^/]+)"


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


list_caches, get_cache = CACHE.routes(cache_body)


@CACHE.on("POST", r"/forcereboot")
async def force_reboot(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: RedisCache) -> web.Response:
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


def _group(arm: Arm, caller: Caller, m: re.Match[str]) -> tuple[SqlServer, FailoverGroup] | web.Response:
    server = SERVER.find(arm, m)
    if isinstance(server, web.Response):
        return server
    group = next(
        (g for g in arm.world.estate.failover_groups if g.name.lower() == m["group"].lower() and server in (g.primary, g.secondary)), None
    )
    if group is None:
        return not_found(GROUPS, f"{server.name}/{m['group']}", m["rg"])
    return arm.guard(caller, f"{GROUPS}/read", group.id_on(server)) or (server, group)


list_servers = SERVER.list_route(lambda s: brief(s, SERVERS))


@route("GET", rf"{SERVER.item}/failovergroups")
async def list_groups(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    server = SERVER.find(arm, m)
    if isinstance(server, web.Response):
        return server
    groups = [g for g in arm.world.estate.failover_groups if server in (g.primary, g.secondary)]
    return web.json_response(
        {"value": [group_body(g, server) for g in groups if arm.guard(caller, f"{GROUPS}/read", g.id_on(server)) is None]}
    )


@on_found("GET", _GROUP, _group)
async def get_group(
    arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: tuple[SqlServer, FailoverGroup]
) -> web.Response:
    return web.json_response(group_body(found[1], found[0]))


@on_found("POST", rf"{_GROUP}/failover", _group)
async def failover(
    arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: tuple[SqlServer, FailoverGroup]
) -> web.Response:
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
