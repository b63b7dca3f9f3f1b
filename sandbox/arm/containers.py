"""Container apps and AKS node pools as Microsoft.App and Microsoft.ContainerService serve them.

Container apps (https://learn.microsoft.com/rest/api/resource-manager/containerapps): GET the app
(`properties.configuration.activeRevisionsMode`, `properties.latestReadyRevisionName`), list by subscription,
"List Revisions" (`GET {app}/revisions`, `properties.active`), and "Restart Revision"
(`POST {app}/revisions/{revision}/restart`, 200).
Node pools (https://learn.microsoft.com/rest/api/aks/agent-pools): list clusters by subscription, "List" pools
(`GET {cluster}/agentPools`), GET a pool (`properties.count`, `properties.eTag`), and "Create Or Update" (`PUT {pool}`:
200 with the pool `Scaling`, and `Azure-AsyncOperation`; `If-Match` with the pool's eTag, else 412). A write while
another runs is refused 409 OperationNotAllowed "Another agentpool operation ... is in progress" (observed:
cilium/cilium#25944, Azure/AKS#1561; https://aka.ms/aks-pending-operation).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..estate import AgentPool, ContainerApp, ManagedCluster, new_etag
from .kit import Arm, Collection, bad_request, brief, json_body, not_found, on_found, precondition_failed, whole
from .rbac import Caller
from .responses import arm_error

APPS, CLUSTERS, POOLS = (
    "Microsoft.App/containerApps",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.ContainerService/managedClusters/agentPools",
)
APP = Collection[ContainerApp](APPS, r"microsoft\.app/containerapps", lambda estate: estate.container_apps)
CLUSTER = Collection[ManagedCluster](CLUSTERS, r"microsoft\.containerservice/managedclusters", lambda estate: estate.clusters)


def app_body(a: ContainerApp) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "type": APPS,
        "location": a.location,
        "properties": {
            "provisioningState": "Succeeded",
            "runningStatus": "Running",
            "latestRevisionName": a.latest_ready,
            "latestReadyRevisionName": a.latest_ready,
            "configuration": {"activeRevisionsMode": a.mode},
        },
    }


list_apps, get_app = APP.routes(app_body)


@APP.on("GET", r"/revisions")
async def list_revisions(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ContainerApp) -> web.Response:
    value = [
        {
            "id": f"{found.id}/revisions/{r.name}",
            "name": r.name,
            "type": f"{APPS}/revisions",
            "properties": {"active": r.active, "trafficWeight": r.traffic, "healthState": "Healthy", "runningState": "Running"},
        }
        for r in found.revisions
    ]
    return web.json_response({"value": value})


@APP.on("POST", r"/revisions/(?P<revision>[^/]+)/restart")
async def restart_revision(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ContainerApp) -> web.Response:
    if refused := arm.guard(caller, f"{APPS}/revisions/restart/action", found.id):
        return refused
    revision = next((r for r in found.revisions if r.name.lower() == m["revision"].lower()), None)
    if revision is None:
        return not_found(f"{APPS}/revisions", f"{found.name}/{m['revision']}", m["rg"])
    arm.wrote(request, caller, found.id, "restart")
    revision.restarts += 1
    return web.Response(status=200)


def pool_body(c: ManagedCluster, p: AgentPool) -> dict[str, Any]:
    return {
        "id": f"{c.id}/agentPools/{p.name}",
        "name": p.name,
        "type": POOLS,
        "properties": {
            "count": p.count,
            "vmSize": "Standard_D4s_v5",
            "osType": "Linux",
            "mode": p.mode,
            "enableAutoScaling": p.autoscale,
            "provisioningState": p.provisioning,
            "orchestratorVersion": "1.30.6",
            "currentOrchestratorVersion": "1.30.6",
            "eTag": p.etag,
        },
    }


list_clusters = CLUSTER.list_route(lambda c: brief(c, CLUSTERS))


@CLUSTER.on("GET", "/agentpools")
async def list_pools(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ManagedCluster) -> web.Response:
    return web.json_response({"value": [pool_body(found, p) for p in found.pools.values()]})


_POOL = rf"{CLUSTER.item}/agentpools/(?P<pool>[^/]+)"


def _pool(arm: Arm, caller: Caller, m: re.Match[str]) -> tuple[ManagedCluster, AgentPool] | web.Response:
    cluster = CLUSTER.lookup(arm, caller, m)
    if isinstance(cluster, web.Response):
        return cluster
    pool = next((p for n, p in cluster.pools.items() if n.lower() == m["pool"].lower()), None)
    return (cluster, pool) if pool else not_found(POOLS, f"{cluster.name}/{m['pool']}", m["rg"])


@on_found("GET", _POOL, _pool)
async def get_pool(
    arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: tuple[ManagedCluster, AgentPool]
) -> web.Response:
    return web.json_response(pool_body(*found))


@on_found("PUT", _POOL, _pool)
async def put_pool(
    arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: tuple[ManagedCluster, AgentPool]
) -> web.Response:
    cluster, pool = found
    pool_id = f"{cluster.id}/agentPools/{pool.name}"
    if refused := arm.guard(caller, f"{POOLS}/write", pool_id):
        return refused
    sent = await json_body(request)
    count = whole(((sent or {}).get("properties") or {}).get("count")) if isinstance(sent, dict) else None
    if count is None or count < (1 if pool.mode == "System" else 0):
        return bad_request("InvalidParameter", "properties.count must be a whole number (at least 1 for a System pool).")
    if (tag := request.headers.get("If-Match")) and tag not in ("*", pool.etag):
        return precondition_failed()
    if arm.busy(pool):
        return arm_error(
            409,
            "OperationNotAllowed",
            f"Operation is not allowed: Another agentpool operation ({pool.name} - {pool.provisioning}) is in progress, please wait "
            "for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more details",
        )
    pool.provisioning, pool.etag = "Scaling", new_etag()

    def done() -> None:
        pool.count, pool.provisioning = count, "Succeeded"

    def failed() -> None:
        pool.provisioning = "Failed"

    return arm.accept(
        request, caller, pool, pool_id, "write", "Microsoft.ContainerService", cluster.location, done=done, failed=failed, status=200,
        body=pool_body(cluster, pool), headers=("Azure-AsyncOperation",), written=sent,
    )  # fmt: skip


ROUTES = (list_apps, get_app, list_revisions, restart_revision, list_clusters, list_pools, get_pool, put_pool)
