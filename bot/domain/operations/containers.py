"""Microsoft.App container apps (api-version 2024-03-01) and Microsoft.ContainerService node pools (2024-09-01).

Container apps (https://learn.microsoft.com/rest/api/resource-manager/containerapps/container-apps-revisions): a
restart is of one revision, `POST {app}/revisions/{revision}/restart` ("Restart Revision": 200). In single-revision
mode the revision is the app's `properties.latestReadyRevisionName`, resolved when the plan is made; in multiple-revision
mode (`properties.configuration.activeRevisionsMode`) the person names it. `GET {app}/revisions` lists them
(`properties.active`).
Node pools (https://learn.microsoft.com/rest/api/aks/agent-pools): "Create Or Update" (`PUT {pool}`: 200 or 201, then
`Azure-AsyncOperation`) with the pool as read and `properties.count` changed, `If-Match` with its `properties.eTag`.
Read-only properties are left out of the body, as the SDKs leave them out.
"""

from __future__ import annotations

from typing import Any

from ..names import revision_name_problem
from ..resources import require_type
from .compute import _capacity_after
from .params import Param, ParamKind
from .request import get_path
from .spec import Facts, Observation, OperationSpec, PlanContext, Read, StateSpec, Unplannable

APPS, POOLS = require_type("Microsoft.App/containerApps"), require_type("Microsoft.ContainerService/managedClusters/agentPools")
NODES = "Node count"
ACTIVE = "Active revision"
# AgentPool properties marked readOnly in the 2024-09-01 spec (the SDK's serializer drops them from a PUT)
_POOL_READ_ONLY = ("provisioningState", "currentOrchestratorVersion", "nodeImageVersion", "eTag")


def active_revisions(o: Observation) -> list[str]:
    listed = (o.body("revisions") or {}).get("value") or []
    return sorted(str(r.get("name")) for r in listed if get_path(r, "properties.active"))


def _app_facts(o: Observation) -> Facts:
    if not o.found:
        return ()
    mode = str(get_path(o.body(), "properties.configuration.activeRevisionsMode") or "Single")
    active = active_revisions(o) or [str(get_path(o.body(), "properties.latestReadyRevisionName") or "none")]
    return (("Revision mode", mode), (ACTIVE, ", ".join(active)))


def _pool_facts(o: Observation) -> Facts:
    count = get_path(o.body(), "properties.count")
    return ((NODES, str(count)),) if count is not None else ()


def _pool_etag(o: Observation) -> str | None:
    tag = get_path(o.body(), "properties.eTag")
    return str(tag) if tag else None


STATES: dict[str, StateSpec] = {
    APPS.name: StateSpec((Read("resource", "{id}"), Read("revisions", "{id}/revisions")), _app_facts),
    POOLS.name: StateSpec((Read("resource", "{id}"),), _pool_facts, _pool_etag),
}


def _revision(ctx: PlanContext) -> tuple[str, Any]:
    """The revision to restart: the one named, else (single-revision mode) the latest ready one, as read now."""
    named, app, o = ctx.params.get("revision"), ctx.ref.name, ctx.observation
    known = o is not None and o.found
    if named:
        listed = {str(r.get("name")).lower() for r in ((o.body("revisions") or {}).get("value") or [])} if known and o else set()
        if listed and str(named).lower() not in listed:
            raise Unplannable(f"container app {app} has no revision {named}; its active revisions: {_listing(o)}", "parameters.revision")
        return f"/revisions/{named}/restart", None
    if not known or o is None:
        raise Unplannable(f"container app {app} could not be read to find its latest ready revision; name the revision ({app}/<revision>)")
    if str(get_path(o.body(), "properties.configuration.activeRevisionsMode") or "Single").lower() == "multiple":
        raise Unplannable(
            f"container app {app} runs several revisions at once (multiple-revision mode): name the one to restart, "
            f"{app}/<revision>. Active: {_listing(o)}",
            "parameters.revision",
        )
    latest = get_path(o.body(), "properties.latestReadyRevisionName")
    if not latest:
        raise Unplannable(f"container app {app} has no ready revision to restart")
    return f"/revisions/{latest}/restart", None


def _listing(o: Observation | None) -> str:
    return ", ".join(active_revisions(o)) if o is not None and active_revisions(o) else "none"


def _pool_scale(ctx: PlanContext) -> tuple[str, Any]:
    read = ctx.observation.body() if ctx.observation else None
    props = read.get("properties") if isinstance(read, dict) else None
    if not isinstance(props, dict):
        raise Unplannable(f"node pool {ctx.ref.display} could not be read, so its node count cannot be written back")
    if props.get("enableAutoScaling"):
        raise Unplannable(
            f"node pool {ctx.ref.display} scales itself (cluster autoscaler on, {props.get('minCount')} to {props.get('maxCount')} nodes); "
            "change its autoscaler bounds instead"
        )
    kept = {k: v for k, v in props.items() if k not in _POOL_READ_ONLY}
    return "", {"properties": {**kept, "count": ctx.params["count"]}}


APP_OPERATIONS = (
    OperationSpec(
        APPS, "restart", "Restart", "POST", "/revisions/{revision}/restart", "2024-03-01", (f"{APPS.name}/revisions/restart/action",),
        "https://learn.microsoft.com/rest/api/resource-manager/containerapps/container-apps-revisions/restart-revision",
        params=(Param("revision", ParamKind.NAME, "The revision (required in multiple-revision mode)", rule=revision_name_problem),),
        build=_revision, risk="The revision's replicas restart: requests they are serving fail.", undo="Nothing to undo.",
    ),
)  # fmt: skip
POOL_OPERATIONS = (
    OperationSpec(
        POOLS, "scale", "Scale", "PUT", "", "2024-09-01", (f"{POOLS.name}/write",),
        "https://learn.microsoft.com/rest/api/aks/agent-pools/create-or-update",
        params=(Param("count", ParamKind.INTEGER, "The number of nodes the pool should have", minimum=0, maximum=1000),),
        build=_pool_scale, after=_capacity_after(NODES, "count"), shown=("properties.count",), phrase="to {count} nodes",
        risk="Scaling in drains and deletes nodes: their pods move to the remaining nodes or wait unscheduled.",
        undo="Scale the pool back to the node count it had.", if_match=True, needs_state=True,
    ),
)  # fmt: skip
