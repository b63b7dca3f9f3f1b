"""The seeded demo world shared by `make run` and the tests.

Identifiers are derived with uuid5 so they are stable from run to run (handy in a demo);
client secrets are random per run and never written to disk.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from enum import Enum

from .estate import Estate, demo_estate
from .registrations import BotRegistration, Registrations, load
from .reprs import PrintsOwnRepr

_NAMESPACE = uuid.UUID("5b0c7f9e-2f4c-4a86-9d51-6f2b1d7c0a11")


def stable_id(name: str) -> str:
    """A GUID that is the same on every run for the same name."""
    return str(uuid.uuid5(_NAMESPACE, name))


SUBSCRIPTION_ID = "00000000-0000-0000-0000-0000000000aa"
HOME_TENANT_ID = stable_id("tenant:contoso")
OTHER_TENANT_ID = stable_id("tenant:fabrikam")
LOCATION = "westeurope"
TEAMS_CLIENT_ID = "1fec8e78-bce4-4aaf-ab1b-5451cc387264"  # Teams desktop/mobile, pre-authorized for SSO
GRAPH_RESOURCE = "graph"  # the Entra simulator also serves the Microsoft Graph subset; its audience is its own URL


class OboError(str, Enum):
    """Failure modes the Entra simulator can play for one user's On-Behalf-Of exchange."""

    MFA_REQUIRED = "mfa_required"
    CONSENT_REQUIRED = "consent_required"
    INVALID_ASSERTION = "invalid_assertion"
    ACCOUNT_DISABLED = "account_disabled"


@dataclass
class User:
    """A person in a tenant, with their Teams identity."""

    name: str
    display_name: str
    tenant_id: str
    domain: str
    obo_error: OboError | None = None
    guest_in: str | None = None  # a B2B guest: the tenant that invited them (their guest account lives there)

    @property
    def object_id(self) -> str:
        return stable_id(f"user:{self.tenant_id}:{self.name}")

    @property
    def upn(self) -> str:
        return f"{self.name}@{self.domain}"

    @property
    def teams_id(self) -> str:
        """The Teams user id (MRI) that activities carry in `from.id`."""
        return f"29:sandbox-{self.name}"


@dataclass
class App(PrintsOwnRepr):
    """An Entra application registration and its service principal."""

    name: str
    tenant_id: str
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    app_id_uri: str | None = None
    # app roles this app holds on other apps' APIs: resource app id URI -> role names
    api_roles: dict[str, set[str]] = field(default_factory=dict)
    # the API this app exposes (identifier URI, token version, scopes, pre-authorized clients, app roles)
    registration: BotRegistration | None = None
    # a fixed app id, for Microsoft's own multi-tenant apps whose service principals live in every tenant
    app_id: str | None = None

    @property
    def token_version(self) -> int:
        """The access token version Entra issues for this app's API (1 unless the registration asks for 2)."""
        return self.registration.token_version if self.registration else 1

    @property
    def client_id(self) -> str:
        return self.app_id or stable_id(f"app:{self.name}")

    @property
    def object_id(self) -> str:
        return stable_id(f"sp:{self.name}")


@dataclass(frozen=True)
class RoleAssignment:
    """Azure RBAC: a principal holds a role at a scope."""

    principal_id: str
    role: str
    scope: str


@dataclass
class VirtualMachine:
    """A VM as the ARM simulator keeps it."""

    subscription_id: str
    resource_group: str
    name: str
    power_state: str = "running"
    location: str = LOCATION
    size: str = "Standard_D2s_v5"

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )


# The built-in roles' actions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles), the parts
# that matter here: Virtual Machine Contributor covers scale sets too (compute#virtual-machine-contributor).
ROLE_DEFINITIONS: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),
    "Virtual Machine Contributor": (
        "Microsoft.Compute/virtualMachines/*",
        "Microsoft.Compute/virtualMachineScaleSets/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
    ),
    "Website Contributor": ("Microsoft.Web/sites/*", "Microsoft.Web/serverFarms/join/action", "Microsoft.Web/serverFarms/read"),
    "Web Plan Contributor": ("Microsoft.Web/serverFarms/*",),
    "Container Apps Contributor": ("Microsoft.App/containerApps/*",),
    "Azure Kubernetes Service Contributor Role": ("Microsoft.ContainerService/managedClusters/*",),
    "Redis Cache Contributor": ("Microsoft.Cache/redis/*",),
    "SQL Server Contributor": ("Microsoft.Sql/servers/*",),
    "Reader": ("*/read",),
}


@dataclass(frozen=True)
class Channel:
    """A Teams channel in a team."""

    team_id: str
    team_name: str
    channel_id: str
    channel_name: str


@dataclass(frozen=True)
class Group:
    """An Entra security group."""

    name: str
    members: frozenset[str]  # user names

    @property
    def object_id(self) -> str:
        return stable_id(f"group:{self.name}")


@dataclass
class World:
    """Everything the simulators know: tenants, people, groups, apps, VMs and who may do what."""

    users: dict[str, User]
    apps: dict[str, App]
    vms: list[VirtualMachine]
    role_assignments: list[RoleAssignment]
    channels: list[Channel]
    groups: list[Group] = field(default_factory=list)
    home_tenant_id: str = HOME_TENANT_ID
    subscription_id: str = SUBSCRIPTION_ID
    registrations: Registrations | None = None
    estate: Estate = field(default_factory=Estate)  # everything else ARM serves (sandbox/estate.py)

    def resource_groups(self) -> set[tuple[str, str]]:
        """(subscription, resource group), lower-case, of every resource in the world."""
        return {(v.subscription_id.lower(), v.resource_group.lower()) for v in self.vms} | self.estate.groups()

    @property
    def tenants(self) -> set[str]:
        return {u.tenant_id for u in self.users.values()} | {a.tenant_id for a in self.apps.values()}

    @property
    def agent(self) -> App:
        return self.apps["sre-agent"]

    @property
    def bot(self) -> App:
        return self.apps["sre-consent-bot"]

    @property
    def approvals_channel(self) -> Channel:
        """The SRE team's Approvals channel (APPROVALS_CHANNEL of `make run`)."""
        return next(c for c in self.channels if c.channel_name == "Approvals")

    def user(self, name: str) -> User:
        return self.users[name]

    def user_by_oid(self, oid: str) -> User | None:
        return next((u for u in self.users.values() if u.object_id == oid), None)

    def app_by_client_id(self, client_id: str) -> App | None:
        return next((a for a in self.apps.values() if a.client_id == client_id), None)

    def app_by_oid(self, oid: str) -> App | None:
        return next((a for a in self.apps.values() if a.object_id == oid), None)

    def app_by_resource(self, resource: str) -> App | None:
        """The app whose API is identified by `resource` (its app id URI or client id)."""
        resource = resource.rstrip("/")
        return next((a for a in self.apps.values() if resource in (a.app_id_uri, a.client_id)), None)


def demo_world(bot_domain: str = "localhost", registrations: Registrations | None = None) -> World:
    """The seeded world: subscription with dev-rg/dev-01 and prod-rg/web-01, web-02 (and the estate of
    sandbox/estate.py: web app, plan, cache in prod-rg; scale set, container apps, AKS, SQL in platform-rg);
    alice, bob, carol, mallory.

    The bot's app registration and the agent identity's Graph permissions come from `registrations`
    (default: infra/app-registrations.json), the file a deployment applies to its tenant.
    """
    registrations = registrations or load()
    apps = _demo_apps(registrations, bot_domain)
    users = _demo_people()
    return World(
        users=users,
        apps={a.name: a for a in apps},
        vms=[
            VirtualMachine(SUBSCRIPTION_ID, "dev-rg", "dev-01"),
            VirtualMachine(SUBSCRIPTION_ID, "prod-rg", "web-01"),
            VirtualMachine(SUBSCRIPTION_ID, "prod-rg", "web-02"),
        ],
        role_assignments=_demo_role_assignments(apps[1], users),
        channels=_demo_channels(),
        groups=[Group("SRE On-Call", frozenset({"alice"}))],
        registrations=registrations,
        estate=demo_estate(SUBSCRIPTION_ID),
    )


def _demo_apps(registrations: Registrations, bot_domain: str) -> list[App]:
    """The bot, the agent, an app nobody listed, and Azure Monitor's Action Groups when the registrations name it."""
    bot = App(name="sre-consent-bot", tenant_id=HOME_TENANT_ID, registration=registrations.bot)
    bot.app_id_uri = registrations.bot.identifier_uri(bot_domain, bot.client_id)
    # Role assignments (an admin's grant): the agent holds Plans.Submit on the bot's API, and on Microsoft
    # Graph the app roles the file grants the agent identity.
    agent = App(
        name="sre-agent",
        tenant_id=HOME_TENANT_ID,
        api_roles={bot.app_id_uri: {"Plans.Submit"}, GRAPH_RESOURCE: set(registrations.agent_graph_roles)},
    )
    intruder = App(name="unlisted-app", tenant_id=HOME_TENANT_ID)
    # Azure Monitor's Action Groups service principal, assigned the secure webhook app role as infra/README.md does
    # (https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups, "secure webhook")
    apps = [bot, agent, intruder]
    if registrations.action_groups_app_id:
        apps.append(
            App(
                name="action-groups",
                tenant_id=HOME_TENANT_ID,
                app_id=registrations.action_groups_app_id,
                api_roles={bot.app_id_uri: {"ActionGroupsSecureWebhook"}},
            )
        )
    return apps


def _demo_people() -> dict[str, User]:
    """Contoso's people, Fabrikam's Mallory, and Gus, Fabrikam's guest in Contoso."""
    return {
        "alice": User("alice", "Alice Admin", HOME_TENANT_ID, "contoso.example"),
        "bob": User("bob", "Bob Reader", HOME_TENANT_ID, "contoso.example"),
        "carol": User("carol", "Carol Requester", HOME_TENANT_ID, "contoso.example"),
        "mallory": User("mallory", "Mallory Outsider", OTHER_TENANT_ID, "fabrikam.example"),
        "gus": User("gus", "Gus Guest", OTHER_TENANT_ID, "fabrikam.example", guest_in=HOME_TENANT_ID),
    }


def _demo_role_assignments(agent: App, users: dict[str, User]) -> list[RoleAssignment]:
    """Who may do what on the subscription: the agent on dev-rg and platform-rg (only Reader on prod-rg), alice
    everywhere (and every kind of resource in prod-rg), bob reads."""
    sub = f"/subscriptions/{SUBSCRIPTION_ID}"
    return [
        RoleAssignment(agent.object_id, "Virtual Machine Contributor", f"{sub}/resourceGroups/dev-rg"),
        RoleAssignment(agent.object_id, "Reader", f"{sub}/resourceGroups/prod-rg"),
        RoleAssignment(agent.object_id, "Contributor", f"{sub}/resourceGroups/platform-rg"),
        RoleAssignment(users["alice"].object_id, "Contributor", f"{sub}/resourceGroups/prod-rg"),
        RoleAssignment(users["alice"].object_id, "Contributor", f"{sub}/resourceGroups/platform-rg"),
        # infra/main.bicep's default for the agent identity: Reader on the subscription (reads alerts to confirm them)
        RoleAssignment(agent.object_id, "Reader", sub),
        RoleAssignment(users["alice"].object_id, "Virtual Machine Contributor", sub),
        RoleAssignment(users["bob"].object_id, "Reader", sub),
    ]


def _demo_channels() -> list[Channel]:
    return [
        Channel(
            team_id="19:sandbox-sre-team@thread.tacv2",
            team_name="SRE",
            channel_id="19:sandbox-incidents@thread.tacv2",
            channel_name="Incidents",
        ),
        Channel(  # APPROVALS_CHANNEL of `make run`: plans asked where no approver can act are posted here
            team_id="19:sandbox-sre-team@thread.tacv2",
            team_name="SRE",
            channel_id="19:sandbox-approvals@thread.tacv2",
            channel_name="Approvals",
        ),
    ]
