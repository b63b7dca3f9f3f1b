"""Every entry of the operations catalog against the sandbox's ARM, through the one executor, with both identities.

Each entry is planned as the bot plans it (the state read with the agent identity, the request built from it), sent by
ArmRunner as the agent, then planned again and sent On-Behalf-Of alice. Where the agent is only Reader (prod-rg) ARM
refuses it with AuthorizationFailed naming the entry's own RBAC action, and nothing is written; alice's rights carry it
out. Every case checks what changed in the sandbox, and puts it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential, OnBehalfOfCredential

from bot.adapters.azure.arm_runner import ArmRunner
from bot.domain.operations import CATALOG, OperationSpec, by_key, parse_parameters
from bot.domain.resources import ResourceRef
from bot.ports import RunStatus
from bot.services.planning import prepare
from sandbox import Sandbox
from sandbox.world import VirtualMachine, World
from tests.fakes import World as Fakes

from .harness import no_progress


@dataclass
class Case:
    """One entry: the resource (under the subscription), its parameters, what it changes and how to put it back."""

    key: str
    path: str
    params: dict[str, Any]
    changed: Callable[[World], bool]
    reset: Callable[[World], None] = lambda w: None
    prepare: Callable[[World], None] = lambda w: None
    agent_refused: bool = False  # prod-rg: the agent is only Reader there
    notes: list[str] = field(default_factory=list)


def _vm(w: World, name: str = "ops-01") -> Any:
    return next(v for v in w.vms if v.name == name)


def _set(obj: Any, **values: Any) -> None:
    for k, v in values.items():
        setattr(obj, k, v)


VMSS = "platform-rg/providers/Microsoft.Compute/virtualMachineScaleSets/web-ss"
POOL = "platform-rg/providers/Microsoft.ContainerService/managedClusters/aks-prod/agentPools/nodepool1"
DEV01 = "platform-rg/providers/Microsoft.Compute/virtualMachines/ops-01"  # a VM of this module's own (see ops_vm)
SHOP = "prod-rg/providers/Microsoft.Web/sites/shop"
FAILOVER_GROUP = "platform-rg/providers/Microsoft.Sql/servers/sql-east/failoverGroups/orders-fg"


def _ss(w: World) -> Any:
    return w.estate.scale_sets[0]


def _shop(w: World) -> Any:
    return w.estate.web_apps[0]


def _pool(w: World) -> Any:
    return w.estate.clusters[0].pools["nodepool1"]


def _revision(w: World) -> Any:
    return w.estate.container_apps[0].revisions[-1]


def _redis(w: World) -> Any:
    return w.estate.caches[0]


CASES = [
    Case("Microsoft.Compute/virtualMachines/restart", DEV01, {}, lambda w: _vm(w).power_state == "running"),
    Case(
        "Microsoft.Compute/virtualMachines/start", DEV01, {},
        lambda w: _vm(w).power_state == "running", prepare=lambda w: _set(_vm(w), power_state="deallocated"),
    ),
    Case(
        "Microsoft.Compute/virtualMachines/powerOff", DEV01, {},
        lambda w: _vm(w).power_state == "stopped", reset=lambda w: _set(_vm(w), power_state="running"),
    ),
    Case(
        "Microsoft.Compute/virtualMachines/deallocate", DEV01, {},
        lambda w: _vm(w).power_state == "deallocated", reset=lambda w: _set(_vm(w), power_state="running"),
    ),
    Case("Microsoft.Compute/virtualMachines/redeploy", DEV01, {}, lambda w: _vm(w).power_state == "running"),
    Case("Microsoft.Compute/virtualMachineScaleSets/restart", VMSS, {}, lambda w: _ss(w).power_state == "running"),
    Case(
        "Microsoft.Compute/virtualMachineScaleSets/start", VMSS, {}, lambda w: _ss(w).power_state == "running",
        prepare=lambda w: _set(_ss(w), power_state="deallocated"),
    ),
    Case(
        "Microsoft.Compute/virtualMachineScaleSets/powerOff", VMSS, {}, lambda w: _ss(w).power_state == "stopped",
        reset=lambda w: _set(_ss(w), power_state="running"),
    ),
    Case(
        "Microsoft.Compute/virtualMachineScaleSets/deallocate", VMSS, {}, lambda w: _ss(w).power_state == "deallocated",
        reset=lambda w: _set(_ss(w), power_state="running"),
    ),
    Case(
        "Microsoft.Compute/virtualMachineScaleSets/scale", VMSS, {"capacity": 5}, lambda w: _ss(w).capacity == 5,
        reset=lambda w: _set(_ss(w), capacity=2),
    ),
    Case(
        "Microsoft.Web/sites/restart", SHOP, {}, lambda w: _shop(w).state == "Running",
        agent_refused=True,
    ),
    Case(
        "Microsoft.Web/sites/start", SHOP, {}, lambda w: _shop(w).state == "Running",
        prepare=lambda w: _set(_shop(w), state="Stopped"), agent_refused=True,
    ),
    Case(
        "Microsoft.Web/sites/stop", SHOP, {}, lambda w: _shop(w).state == "Stopped",
        reset=lambda w: _set(_shop(w), state="Running"), agent_refused=True,
    ),
    Case(
        "Microsoft.Web/sites/slots/swap", "prod-rg/providers/Microsoft.Web/sites/shop/slots/staging", {},
        lambda w: _shop(w).content == "build-42" and _shop(w).slots["staging"].content == "build-41",
        reset=lambda w: (_set(_shop(w), content="build-41"), _set(_shop(w).slots["staging"], content="build-42")),
        agent_refused=True,
    ),
    Case(
        "Microsoft.Web/serverfarms/scale", "prod-rg/providers/Microsoft.Web/serverfarms/shop-plan", {"capacity": 4},
        lambda w: w.estate.plans[0].capacity == 4, reset=lambda w: _set(w.estate.plans[0], capacity=3), agent_refused=True,
    ),
    Case(
        "Microsoft.App/containerApps/restart", "platform-rg/providers/Microsoft.App/containerApps/orders-api", {},
        lambda w: _revision(w).restarts > 0, reset=lambda w: _set(_revision(w), restarts=0),
    ),
    Case(
        "Microsoft.ContainerService/managedClusters/agentPools/scale", POOL, {"count": 5},
        lambda w: _pool(w).count == 5, reset=lambda w: _set(_pool(w), count=3),
    ),
    Case(
        "Microsoft.Cache/redis/reboot", "prod-rg/providers/Microsoft.Cache/Redis/cache-prod", {"rebootType": "PrimaryNode"},
        lambda w: _redis(w).reboots[-1:] == ["PrimaryNode"], reset=lambda w: _redis(w).reboots.clear(), agent_refused=True,
    ),
    Case(
        "Microsoft.Sql/servers/failoverGroups/failover", FAILOVER_GROUP, {},
        lambda w: w.estate.failover_groups[0].primary.name == "sql-east",
        reset=lambda w: _set(w.estate.failover_groups[0], primary=w.estate.sql_servers[0], secondary=w.estate.sql_servers[1]),
    ),
]  # fmt: skip


def test_every_catalog_entry_has_a_contract_case() -> None:
    assert sorted(c.key for c in CASES) == sorted(s.key for s in CATALOG)


@pytest.fixture(autouse=True)
def ops_vm(sandbox: Sandbox) -> Iterator[None]:
    """A VM for these cases only, in platform-rg (the agent is Contributor there): other tests count the writes to the
    demo world's VMs, and expect only the agent's."""
    vm = VirtualMachine(sandbox.world.subscription_id, "platform-rg", "ops-01")
    sandbox.world.vms.append(vm)
    yield
    sandbox.world.vms.remove(vm)


def _deps(runner: ArmRunner) -> Any:
    fakes = Fakes()
    fakes.deps.runner = runner
    return fakes.deps


async def _plan(runner: ArmRunner, sandbox: Sandbox, case: Case) -> Any:
    spec: OperationSpec = by_key(case.key)
    ref = ResourceRef.parse(f"/subscriptions/{sandbox.world.subscription_id}/resourceGroups/{case.path}")
    return await prepare(_deps(runner), spec, ref, parse_parameters(spec.params, case.params))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.key)
async def test_each_entry_is_sent_as_planned_with_the_agent_and_on_behalf_of_a_user(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential, case: Case
) -> None:
    world, arm = sandbox.world, sandbox.arm
    case.prepare(world)
    try:
        action = await _plan(runner, sandbox, case)
        assert action.request.api_version == action.operation.api_version and action.request.method == action.operation.method
        since = len(arm.writes)
        result = await runner.run(action, agent_credential, no_progress)
        if case.agent_refused:
            assert result.status is RunStatus.REFUSED and result.access_denied is not None
            assert result.access_denied.permission.lower() == action.operation.rbac_action.lower()  # the entry's own action
            assert len(arm.writes) == since  # refused before anything was written
        else:
            assert result.status is RunStatus.SUCCEEDED, result
            assert case.changed(world)
            assert [(w.caller_oid, w.method) for w in arm.writes[since:]] == [(world.agent.object_id, action.request.method)]
            case.reset(world)
            case.prepare(world)
        alice = world.user("alice")
        async with OnBehalfOfCredential(
            world.home_tenant_id, world.bot.client_id, client_secret=world.bot.secret,
            user_assertion=sandbox.entra.sso_token("alice"), authority=sandbox.entra.base_url, disable_instance_discovery=True,
        ) as lent:  # fmt: skip
            again = await _plan(runner, sandbox, case)
            since = len(arm.writes)
            result = await runner.run(again, lent, no_progress)
        assert result.status is RunStatus.SUCCEEDED, result
        assert case.changed(world)
        written = arm.writes[since:]
        assert [(w.caller_oid, w.method) for w in written] == [(alice.object_id, again.request.method)]
        assert written[0].resource_id.lower() in again.request.path.lower()
        if again.request.body is not None:
            assert written[0].body == again.request.body  # exactly the body planned (and shown, and hashed)
    finally:
        case.reset(world)
