"""The kinds of Azure resource the bot may act on, and a resource of one of them, named by its ARM id.

Every kind is data in RESOURCE_TYPES: its type as ARM ids spell it, the word people use for it in chat, Azure's
naming rule for each name in its id (domain/names.py), the api-version its state is read with, the built-in role
that lets someone carry out its operations, and its REST reference. Nothing else reaches an ARM path: a resource id
of another type (a Key Vault, a storage account) is refused when it is parsed, listing the types supported.
Azure compares names case-insensitively (resource-name-rules), so does this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .names import (
    NameRule,
    agent_pool_name_problem,
    cluster_name_problem,
    container_app_name_problem,
    plan_name_problem,
    redis_name_problem,
    resource_group_problem,
    scale_set_name_problem,
    slot_name_problem,
    sql_name_problem,
    subscription_problem,
    vm_name_problem,
    web_app_name_problem,
)

VIRTUAL_MACHINES = "Microsoft.Compute/virtualMachines"


@dataclass(frozen=True)
class ResourceType:
    """A kind of resource: `name` as in its resource id (`Microsoft.Web/sites/slots`), one naming rule per name in
    the id (the parent's first), the chat word (`kind`) and noun people read."""

    name: str
    kind: str
    noun: str
    name_rules: tuple[NameRule, ...]
    api_version: str  # for reading the resource (GET), and listing it
    role: str  # a built-in role granting every operation of the catalog on this type
    role_reference: str
    reference: str  # the REST reference of the type
    parent_noun: str = ""  # what a child type lives under ("web app" for a slot)

    @property
    def noun_first(self) -> str:
        """The noun opening a sentence ("App Service plan", "Web app")."""
        return self.noun[0].upper() + self.noun[1:]

    @property
    def namespace(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def segments(self) -> tuple[str, ...]:
        """The type's segments after the namespace: ("sites", "slots")."""
        return tuple(self.name.split("/")[1:])

    @property
    def parent_name(self) -> str | None:
        """The type a child type lives under (`Microsoft.Web/sites` for slots), None for a top-level type."""
        return "/".join(self.name.split("/")[:-1]) if len(self.segments) > 1 else None

    def names_problem(self, names: tuple[str, ...]) -> str | None:
        for rule, name in zip(self.name_rules, names, strict=True):
            if problem := rule(name):
                return problem
        return None


_ROLES = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles"


def _role(section: str, name: str) -> tuple[str, str]:
    """A built-in role and its entry in the built-in roles page (the anchor is the name, lower-case and hyphenated)."""
    return name, f"{_ROLES}/{section}#{name.lower().replace(' ', '-')}"


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType(
        VIRTUAL_MACHINES, "vm", "VM", (vm_name_problem,), "2024-07-01",
        *_role("compute", "Virtual Machine Contributor"), "https://learn.microsoft.com/rest/api/compute/virtual-machines",
    ),
    ResourceType(
        "Microsoft.Compute/virtualMachineScaleSets", "vmss", "scale set", (scale_set_name_problem,), "2024-07-01",
        *_role("compute", "Virtual Machine Contributor"), "https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets",
    ),
    ResourceType(
        "Microsoft.Web/sites", "app", "web app", (web_app_name_problem,), "2024-04-01",
        *_role("web-and-mobile", "Website Contributor"), "https://learn.microsoft.com/rest/api/appservice/web-apps",
    ),
    ResourceType(
        "Microsoft.Web/sites/slots", "slot", "deployment slot", (web_app_name_problem, slot_name_problem), "2024-04-01",
        *_role("web-and-mobile", "Website Contributor"),
        "https://learn.microsoft.com/rest/api/appservice/web-apps/get-slot", parent_noun="web app",
    ),
    ResourceType(
        "Microsoft.Web/serverfarms", "plan", "App Service plan", (plan_name_problem,), "2024-04-01",
        *_role("web-and-mobile", "Web Plan Contributor"), "https://learn.microsoft.com/rest/api/appservice/app-service-plans",
    ),
    ResourceType(
        "Microsoft.App/containerApps", "containerapp", "container app", (container_app_name_problem,), "2024-03-01",
        *_role("containers", "Container Apps Contributor"),
        "https://learn.microsoft.com/rest/api/resource-manager/containerapps/container-apps",
    ),
    ResourceType(
        "Microsoft.ContainerService/managedClusters/agentPools", "pool", "node pool",
        (cluster_name_problem, agent_pool_name_problem), "2024-09-01",
        *_role("containers", "Azure Kubernetes Service Contributor Role"),
        "https://learn.microsoft.com/rest/api/aks/agent-pools", parent_noun="AKS cluster",
    ),
    ResourceType(
        "Microsoft.Cache/redis", "redis", "Redis cache", (redis_name_problem,), "2024-11-01",
        *_role("databases", "Redis Cache Contributor"), "https://learn.microsoft.com/rest/api/redis/redis",
    ),
    ResourceType(
        "Microsoft.Sql/servers/failoverGroups", "failovergroup", "failover group", (sql_name_problem, sql_name_problem),
        "2021-11-01", *_role("databases", "SQL Server Contributor"), "https://learn.microsoft.com/rest/api/sql/failover-groups",
        parent_noun="SQL server",
    ),
)  # fmt: skip
_BY_NAME = {t.name.lower(): t for t in RESOURCE_TYPES}
_BY_KIND = {t.kind: t for t in RESOURCE_TYPES}


def resource_type(name: str) -> ResourceType | None:
    """The catalog's type named `name`, in any case (ARM ids spell `Microsoft.Cache/Redis`, docs `redis`)."""
    return _BY_NAME.get(name.strip().lower())


def require_type(name: str) -> ResourceType:
    """The catalog's type named `name`; KeyError if there is none (for the catalog's own entries)."""
    found = resource_type(name)
    if found is None:
        raise KeyError(name)
    return found


def by_kind(kind: str) -> ResourceType | None:
    """The type a chat word names ("app", "plan", "vmss")."""
    return _BY_KIND.get(kind.strip().lower())


def supported_types() -> str:
    return ", ".join(t.name for t in RESOURCE_TYPES)


_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+?)/?$", re.IGNORECASE
)


@dataclass(frozen=True)
class ResourceRef:
    """A resource of a catalog type, by subscription, resource group, its parents' names and its own name.

    `ResourceRef(sub, group, name)` is a virtual machine; `type` and `parents` name anything else
    (a slot `staging` of app `shop`: type Microsoft.Web/sites/slots, parents ("shop",), name "staging").
    """

    subscription_id: str
    resource_group: str
    name: str
    type: str = VIRTUAL_MACHINES
    parents: tuple[str, ...] = ()

    @property
    def resource_type(self) -> ResourceType:
        return require_type(self.type)  # parse() and the catalog build only refs of known types

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.parents, self.name)

    @property
    def display(self) -> str:
        """The name people use: "web-01", "shop/staging", "aks-prod/nodepool1"."""
        return "/".join(self.names)

    @property
    def group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    @property
    def id(self) -> str:
        t = self.resource_type
        pairs = "/".join(f"{segment}/{name}" for segment, name in zip(t.segments, self.names, strict=True))
        return f"{self.group_id}/providers/{t.namespace}/{pairs}"

    @property
    def parent_id(self) -> str | None:
        """The id of the resource this one lives under (the app of a slot), or None for a top-level resource."""
        if not self.parents:
            return None
        return self.id.rsplit("/", 2)[0]

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        """A resource id of a catalog type; raises ValueError naming the expected shape, the types supported, or the
        naming rule broken (nothing like `..` or `%2F` reaches an ARM path)."""
        m = _RESOURCE_ID.match(resource_id.strip())
        if not m:
            raise ValueError("expected /subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>")
        parts = m["rest"].split("/")
        if len(parts) % 2:
            raise ValueError("expected <type>/<name> pairs after the namespace")
        type_name = "/".join([m["ns"], *parts[0::2]])
        found = resource_type(type_name)
        if found is None:
            raise ValueError(f"{type_name} is not a type I can act on; supported: {supported_types()}")
        names = tuple(parts[1::2])
        problem = subscription_problem(m["sub"]) or resource_group_problem(m["rg"]) or found.names_problem(names)
        if problem:
            raise ValueError(problem)
        return cls(m["sub"], m["rg"], names[-1], found.name, names[:-1])

    @classmethod
    def of(cls, rtype: ResourceType, subscription_id: str, resource_group: str, names: tuple[str, ...]) -> ResourceRef:
        """A resource of `rtype` named by `names` (parents first); raises ValueError for a name Azure would refuse."""
        problem = subscription_problem(subscription_id) or resource_group_problem(resource_group)
        if len(names) != len(rtype.segments):
            problem = problem or f"a {rtype.noun} is named <{'>/<'.join(rtype.segments)}>"
        problem = problem or rtype.names_problem(names)
        if problem:
            raise ValueError(problem)
        return cls(subscription_id, resource_group, names[-1], rtype.name, names[:-1])
