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
from .kit import RG, SUB, Arm, bad_request, find, json_body, listed, not_found, precondition_failed, route, whole
from .rbac import Caller
from .responses import arm_error

APPS, CLUSTERS, POOLS = (
    "Microsoft.App/containerApps",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.ContainerService/managedClusters/agentPools",
)
_APP = rf"{RG}/microsoft\.app/containerapps/(?P<name>[^/]+)"
_CLUSTER = rf"{RG}/microsoft\.containerservice/managedclusters/(?P<name>[^/]+)"


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


def _app(arm: Arm, caller: Caller, m: re.Match[str]) -> ContainerApp | web.Response:
    found = find(arm.world.estate.container_apps, m["sub"], m["rg"], m["name"])
    if found is None:
        return arm.missing(m["sub"], m["rg"]) or not_found(APPS, m["name"], m["rg"])
    return arm.guard(caller, f"{APPS}/read", found.id) or found


@route("GET", rf"{SUB}/microsoft\.app/containerapps")
async def list_apps(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    apps = [a for a in listed(arm.world.estate.container_apps, m["sub"]) if arm.guard(caller, f"{APPS}/read", a.id) is None]
    return web.json_response({"value": [app_body(a) for a in apps]})


@route("GET", _APP)
async def get_app(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _app(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response(app_body(found))


@route("GET", rf"{_APP}/revisions")
async def list_revisions(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _app(arm, caller, m)
    if isinstance(found, web.Response):
        return found
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


@route("POST", rf"{_APP}/revisions/(?P<revision>[^/]+)/restart")
async def restart_revision(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _app(arm, caller, m)
    if isinstance(found, web.Response):
        return found
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


def _cluster(arm: Arm, caller: Caller, m: re.Match[str]) -> ManagedCluster | web.Response:
    found = find(arm.world.estate.clusters, m["sub"], m["rg"], m["name"])
    if found is None:
        return arm.missing(m["sub"], m["rg"]) or not_found(CLUSTERS, m["name"], m["rg"])
    return arm.guard(caller, f"{CLUSTERS}/read", found.id) or found


@route("GET", rf"{SUB}/microsoft\.containerservice/managedclusters")
async def list_clusters(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = [c for c in listed(arm.world.estate.clusters, m["sub"]) if arm.guard(caller, f"{CLUSTERS}/read", c.id) is None]
    return web.json_response({"value": [{"id": c.id, "name": c.name, "type": CLUSTERS, "location": c.location} for c in found]})


@route("GET", rf"{_CLUSTER}/agentpools")
async def list_pools(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _cluster(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response({"value": [pool_body(found, p) for p in found.pools.values()]})


def _pool(arm: Arm, caller: Caller, m: re.Match[str]) -> tuple[ManagedCluster, AgentPool] | web.Response:
    cluster = _cluster(arm, caller, m)
    if isinstance(cluster, web.Response):
        return cluster
    pool = next((p for n, p in cluster.pools.items() if n.lower() == m["pool"].lower()), None)
    return (cluster, pool) if pool else not_found(POOLS, f"{cluster.name}/{m['pool']}", m["rg"])


@route("GET", rf"{_CLUSTER}/agentpools/(?P<pool>[^/]+)")
async def get_pool(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _pool(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response(pool_body(*found))


@route("PUT", rf"{_CLUSTER}/agentpools/(?P<pool>[^/]+)")
async def put_pool(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _pool(arm, caller, m)
    if isinstance(found, web.Response):
        return found
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
