"""The demo world's resources beyond virtual machines, as the ARM simulator keeps them: web apps with slots, App
Service plans, scale sets, container apps with revisions, AKS clusters with node pools, Redis caches, SQL servers and
their failover groups. Each has the id Azure gives it; how ARM shows and changes them is in sandbox/arm/.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import ClassVar

LOCATION = "westeurope"


def new_etag() -> str:
    """A fresh ETag, as ARM resources carry one (a quoted opaque string; it changes with every write)."""
    return f'"{uuid.uuid4()}"'


@dataclass
class Resource:
    """What every top-level resource has: its subscription, resource group and name, and so the id Azure gives it
    (`/subscriptions/{sub}/resourceGroups/{rg}/providers/{type}/{name}`)."""

    TYPE: ClassVar[str]  # the resource type, as its id spells it
    subscription_id: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{self.TYPE}/{self.name}"


@dataclass
class AppServicePlan(Resource):
    TYPE = "Microsoft.Web/serverfarms"
    capacity: int = 3
    sku: str = "P1v3"
    location: str = LOCATION


@dataclass
class WebApp(Resource):
    """A web app: `content` is what production serves (a slot swap trades it with the slot's)."""

    TYPE = "Microsoft.Web/sites"
    plan: str
    state: str = "Running"
    content: str = "build-41"
    slots: dict[str, WebApp] = field(default_factory=dict)  # slot name -> the slot (a web app of its own)
    location: str = LOCATION

    def slot_id(self, slot: str) -> str:
        return f"{self.id}/slots/{slot}"


@dataclass
class ScaleSet(Resource):
    TYPE = "Microsoft.Compute/virtualMachineScaleSets"
    capacity: int = 2
    power_state: str = "running"
    etag: str = field(default_factory=new_etag)
    location: str = LOCATION


@dataclass
class Revision:
    name: str
    active: bool = True
    traffic: int = 100
    restarts: int = 0  # how many times it was restarted (what a restart changes, as far as anyone can see)


@dataclass
class ContainerApp(Resource):
    TYPE = "Microsoft.App/containerApps"
    mode: str = "Single"  # activeRevisionsMode
    revisions: list[Revision] = field(default_factory=list)
    location: str = LOCATION

    @property
    def latest_ready(self) -> str | None:
        return self.revisions[-1].name if self.revisions else None


@dataclass
class AgentPool:
    name: str
    count: int = 3
    mode: str = "System"
    autoscale: bool = False
    provisioning: str = "Succeeded"
    etag: str = field(default_factory=new_etag)


@dataclass
class ManagedCluster(Resource):
    TYPE = "Microsoft.ContainerService/managedClusters"
    pools: dict[str, AgentPool] = field(default_factory=dict)
    location: str = LOCATION


@dataclass
class RedisCache(Resource):
    TYPE = "Microsoft.Cache/Redis"
    provisioning: str = "Succeeded"
    reboots: list[str] = field(default_factory=list)  # the reboot types asked for, in order
    location: str = LOCATION


@dataclass
class SqlServer(Resource):
    TYPE = "Microsoft.Sql/servers"
    location: str = LOCATION


@dataclass
class FailoverGroup:
    """A failover group of two servers: the same group is named on each (its id under either server)."""

    name: str
    primary: SqlServer
    secondary: SqlServer

    def id_on(self, server: SqlServer) -> str:
        return f"{server.id}/failoverGroups/{self.name}"

    def role_of(self, server: SqlServer) -> str:
        return "Primary" if server is self.primary else "Secondary"

    def partner_of(self, server: SqlServer) -> SqlServer:
        return self.secondary if server is self.primary else self.primary


@dataclass
class Estate:
    plans: list[AppServicePlan] = field(default_factory=list)
    web_apps: list[WebApp] = field(default_factory=list)
    scale_sets: list[ScaleSet] = field(default_factory=list)
    container_apps: list[ContainerApp] = field(default_factory=list)
    clusters: list[ManagedCluster] = field(default_factory=list)
    caches: list[RedisCache] = field(default_factory=list)
    sql_servers: list[SqlServer] = field(default_factory=list)
    failover_groups: list[FailoverGroup] = field(default_factory=list)

    def groups(self) -> set[tuple[str, str]]:
        """(subscription, resource group) of every resource, lower-case."""
        tops: list[Resource] = [
            *self.plans,
            *self.web_apps,
            *self.scale_sets,
            *self.container_apps,
            *self.clusters,
            *self.caches,
            *self.sql_servers,
        ]
        return {(r.subscription_id.lower(), r.resource_group.lower()) for r in tops}


def demo_estate(sub: str) -> Estate:
    """prod-rg (the agent is only Reader there): the shop web app with its staging slot and plan, and a Redis cache.
    platform-rg (the agent is Contributor): a web app and its plan, a scale set, two container apps (one in
    multiple-revision mode), an AKS cluster with a node pool, and two SQL servers with a failover group."""
    west, east = SqlServer(sub, "platform-rg", "sql-west"), SqlServer(sub, "platform-rg", "sql-east")
    staging = WebApp(sub, "prod-rg", "staging", "shop-plan", content="build-42")
    return Estate(
        plans=[AppServicePlan(sub, "prod-rg", "shop-plan"), AppServicePlan(sub, "platform-rg", "orders-plan", capacity=2)],
        web_apps=[
            WebApp(sub, "prod-rg", "shop", "shop-plan", slots={"staging": staging}),
            WebApp(sub, "platform-rg", "orders-web", "orders-plan"),
        ],
        scale_sets=[ScaleSet(sub, "platform-rg", "web-ss")],
        container_apps=[
            ContainerApp(sub, "platform-rg", "orders-api", revisions=[Revision("orders-api--v1", False, 0), Revision("orders-api--v2")]),
            ContainerApp(
                sub, "platform-rg", "checkout", "Multiple", [Revision("checkout--blue", True, 80), Revision("checkout--green", True, 20)]
            ),
        ],
        clusters=[ManagedCluster(sub, "platform-rg", "aks-prod", {"nodepool1": AgentPool("nodepool1")})],
        caches=[RedisCache(sub, "prod-rg", "cache-prod")],
        sql_servers=[west, east],
        failover_groups=[FailoverGroup("orders-fg", west, east)],
    )
