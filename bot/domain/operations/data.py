"""Microsoft.Cache Redis caches (api-version 2024-11-01) and Microsoft.Sql failover groups (2021-11-01).

Redis (https://learn.microsoft.com/rest/api/redis/redis/force-reboot): `POST {cache}/forceReboot` with
`{"rebootType": "AllNodes" | "PrimaryNode" | "SecondaryNode"}`, answered 200 ("Reboot operation successfully
enqueued"); Microsoft: "There can be potential data loss." The state is `GET {cache}` (`properties.provisioningState`).
Failover groups (https://learn.microsoft.com/rest/api/sql/failover-groups/failover): `POST
{server}/failoverGroups/{group}/failover`, "Fails over from the current primary server to this server": it is sent
to the secondary server's failover group (200, or 202 then `Location`). The state is `GET {group}`
(`properties.replicationRole` of this server, `properties.partnerServers[].replicationRole`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources import require_type
from .params import Param, ParamKind, ParamValue
from .request import get_path
from .spec import Facts, Observation, OperationSpec, PlanContext, Read, StateSpec, Unplannable

REDIS, GROUPS = require_type("Microsoft.Cache/redis"), require_type("Microsoft.Sql/servers/failoverGroups")
ROLE, PARTNER = "Replication role", "Partner server"
REBOOT_TYPES = ("AllNodes", "PrimaryNode", "SecondaryNode")


def _redis_facts(o: Observation) -> Facts:
    state = get_path(o.body(), "properties.provisioningState")
    return (("Status", str(state)),) if state else ()


def _partner(o: Observation) -> tuple[str, str] | None:
    partners = get_path(o.body(), "properties.partnerServers") or []
    if not partners:
        return None
    first = partners[0]
    return str(first.get("id", "")).rsplit("/", 1)[-1], str(first.get("replicationRole", ""))


def _group_facts(o: Observation) -> Facts:
    role = get_path(o.body(), "properties.replicationRole")
    if not role:
        return ()
    partner = _partner(o)
    return ((ROLE, str(role)),) + (((PARTNER, f"{partner[0]} ({partner[1]})"),) if partner else ())


STATES: dict[str, StateSpec] = {
    REDIS.name: StateSpec((Read("resource", "{id}"),), _redis_facts),
    GROUPS.name: StateSpec((Read("resource", "{id}"),), _group_facts),
}


def _reboot(ctx: PlanContext) -> tuple[str, Any]:
    return "/forceReboot", {"rebootType": ctx.params["rebootType"]}


def _failover(ctx: PlanContext) -> tuple[str, Any]:
    o, group, server = ctx.observation, ctx.ref.name, ctx.ref.parents[0]
    if o is not None and o.found and str(get_path(o.body(), "properties.replicationRole")).lower() == "primary":
        partner = _partner(o)
        other = f"{partner[0]}/{group}" if partner else f"<secondary server>/{group}"
        raise Unplannable(
            f"server {server} is already the primary of failover group {group}. Azure fails over to the server the "
            f"request names, so name the secondary: {other}"
        )
    return "/failover", None


def _failover_after(before: Facts, params: Mapping[str, ParamValue]) -> Facts:
    def flipped(value: str) -> str:
        return value.replace("Secondary", "\0").replace("Primary", "Secondary").replace("\0", "Primary")

    return tuple((k, flipped(v)) for k, v in before)


REDIS_OPERATIONS = (
    OperationSpec(
        REDIS, "reboot", "Reboot", "POST", "/forceReboot", "2024-11-01", (f"{REDIS.name}/forceReboot/action",),
        "https://learn.microsoft.com/rest/api/redis/redis/force-reboot",
        params=(Param("rebootType", ParamKind.CHOICE, "Which nodes to reboot", choices=REBOOT_TYPES, default="AllNodes"),),
        build=_reboot, shown=("rebootType",), phrase="({rebootType})",
        risk="Microsoft: \u201cThere can be potential data loss.\u201d Clients are disconnected; data not yet persisted "
        "(or on a cache without persistence, all data) may be lost; PrimaryNode may trigger role changes.",
        undo="Cannot be undone: data lost in the reboot does not come back.",
    ),
)  # fmt: skip
GROUP_OPERATIONS = (
    OperationSpec(
        GROUPS, "failover", "Fail over", "POST", "/failover", "2021-11-01", (f"{GROUPS.name}/failover/action",),
        "https://learn.microsoft.com/rest/api/sql/failover-groups/failover", build=_failover, after=_failover_after,
        risk="The primary moves to this server: the read-write listener points here once done, and the old primary "
        "becomes a read-only secondary. Connections are dropped during the switch.",
        undo="Fail over again, on the other server.",
    ),
)  # fmt: skip
