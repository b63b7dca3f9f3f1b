"""Azure's own refusals of catalog entries, as the sandbox models them, through the executor: a write whose If-Match
ETag no longer matches (412), a documented conflict (a swap in progress), throttling; and what the catalog refuses to
plan before anything reaches Azure (a container app in multiple-revision mode without a revision, a failover sent to
the primary, a swap with a slot that does not exist)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from azure.identity.aio import ClientSecretCredential, OnBehalfOfCredential

from bot.adapters.azure.arm_runner import ArmRunner
from bot.domain.operations import PlannedAction, Unplannable, by_key, parse_parameters
from bot.domain.resources import ResourceRef
from bot.ports import AzureProblem, RunStatus
from bot.services.planning import prepare
from bot.services.results import run_detail
from sandbox import Sandbox
from sandbox.arm import Fault
from sandbox.estate import new_etag
from tests.fakes import World as Fakes

from .harness import no_progress


@pytest.fixture
async def runner(sandbox: Sandbox, agent_credential: ClientSecretCredential) -> AsyncIterator[ArmRunner]:
    r = ArmRunner(sandbox.arm.base_url, agent_credential, sandbox.world.subscription_id, polling_interval=0.01, retry_total=0)
    yield r
    await r.close()


async def _plan(runner: ArmRunner, sandbox: Sandbox, key: str, path: str, **params: Any) -> PlannedAction:
    fakes = Fakes()
    fakes.deps.runner = runner
    spec = by_key(key)
    ref = ResourceRef.parse(f"/subscriptions/{sandbox.world.subscription_id}/resourceGroups/{path}")
    return await prepare(fakes.deps, spec, ref, parse_parameters(spec.params, params))


POOL = "platform-rg/providers/Microsoft.ContainerService/managedClusters/aks-prod/agentPools/nodepool1"
VMSS = "platform-rg/providers/Microsoft.Compute/virtualMachineScaleSets/web-ss"


def _pool(w: Any) -> Any:
    return w.estate.clusters[0].pools["nodepool1"]


@pytest.mark.parametrize(
    ("key", "path", "params", "resource"),
    [
        ("Microsoft.ContainerService/managedClusters/agentPools/scale", POOL, {"count": 4}, _pool),
        ("Microsoft.Compute/virtualMachineScaleSets/scale", VMSS, {"capacity": 4}, lambda w: w.estate.scale_sets[0]),
    ],
)  # fmt: skip
async def test_a_write_whose_etag_no_longer_matches_is_refused_and_nothing_changes(
    sandbox: Sandbox,
    runner: ArmRunner,
    agent_credential: ClientSecretCredential,
    key: str,
    path: str,
    params: dict[str, Any],
    resource: Any,
) -> None:
    action = await _plan(runner, sandbox, key, path, **params)
    assert action.request.if_match  # the read's ETag, sent as If-Match
    target = resource(sandbox.world)
    before = (target.count if hasattr(target, "count") else target.capacity), len(sandbox.arm.writes)
    target.etag = new_etag()  # someone changed it out of band
    result = await runner.run(action, agent_credential, no_progress)
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.STATE_CHANGED)
    assert result.azure_error is not None and result.azure_error.code == "PreconditionFailed"
    assert ((target.count if hasattr(target, "count") else target.capacity), len(sandbox.arm.writes)) == before
    assert "Nothing was written" in run_detail(action, result)


async def test_a_web_app_restart_while_a_swap_runs_is_the_conflict_app_service_answers(
    sandbox: Sandbox, runner: ArmRunner, long_operations: Any
) -> None:
    world = sandbox.world
    async with OnBehalfOfCredential(
        world.home_tenant_id, world.bot.client_id, client_secret=world.bot.secret,
        user_assertion=sandbox.entra.sso_token("alice"), authority=sandbox.entra.base_url, disable_instance_discovery=True,
    ) as alice:  # fmt: skip
        swap = await _plan(runner, sandbox, "Microsoft.Web/sites/slots/swap", "prod-rg/providers/Microsoft.Web/sites/shop/slots/staging")
        restart = await _plan(runner, sandbox, "Microsoft.Web/sites/restart", "prod-rg/providers/Microsoft.Web/sites/shop")
        long_operations(30)
        since = len(sandbox.arm.writes)
        swapping = asyncio.create_task(runner.run(swap, alice, no_progress))
        while len(sandbox.arm.writes) == since:
            await asyncio.sleep(0.01)
        result = await runner.run(restart, alice, no_progress)
        for op in sandbox.arm.operations.values():
            op.ends = min(op.ends, sandbox.arm.clock())
        assert (await swapping).status is RunStatus.SUCCEEDED
    app = world.estate.web_apps[0]
    app.content, app.slots["staging"].content = app.slots["staging"].content, app.content  # as it was
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.CONFLICT)
    assert result.azure_error is not None and "another operation is in progress" in result.azure_error.message
    assert len(sandbox.arm.writes) == since + 1  # the swap only


async def test_throttling_of_any_type_is_told_as_throttling(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential
) -> None:
    action = await _plan(
        runner, sandbox, "Microsoft.App/containerApps/restart", "platform-rg/providers/Microsoft.App/containerApps/orders-api"
    )
    sandbox.arm.inject(Fault("status", status=429, count=1, retry_after=30, action="restart"))
    result = await runner.run(action, agent_credential, no_progress)
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.THROTTLED)


async def test_a_container_app_in_multiple_revision_mode_needs_the_revision_named(sandbox: Sandbox, runner: ArmRunner) -> None:
    path = "platform-rg/providers/Microsoft.App/containerApps/checkout"
    with pytest.raises(Unplannable) as e:
        await _plan(runner, sandbox, "Microsoft.App/containerApps/restart", path)
    assert e.value.field == "parameters.revision" and "checkout--blue, checkout--green" in e.value.message
    named = await _plan(runner, sandbox, "Microsoft.App/containerApps/restart", path, revision="checkout--green")
    assert named.request.path.endswith("/containerApps/checkout/revisions/checkout--green/restart")
    single = await _plan(
        runner, sandbox, "Microsoft.App/containerApps/restart", "platform-rg/providers/Microsoft.App/containerApps/orders-api"
    )
    assert single.request.path.endswith("/revisions/orders-api--v2/restart")  # the latest ready revision, resolved now


async def test_a_failover_named_on_the_primary_is_refused_naming_the_secondary(sandbox: Sandbox, runner: ArmRunner) -> None:
    with pytest.raises(Unplannable) as e:
        await _plan(
            runner,
            sandbox,
            "Microsoft.Sql/servers/failoverGroups/failover",
            "platform-rg/providers/Microsoft.Sql/servers/sql-west/failoverGroups/orders-fg",
        )
    assert "sql-east/orders-fg" in e.value.message


async def test_a_swap_with_a_slot_that_does_not_exist_is_refused_naming_the_parameter(sandbox: Sandbox, runner: ArmRunner) -> None:
    with pytest.raises(Unplannable) as e:
        await _plan(
            runner, sandbox, "Microsoft.Web/sites/slots/swap", "prod-rg/providers/Microsoft.Web/sites/shop/slots/staging", targetSlot="qa"
        )
    assert e.value.field == "parameters.targetSlot" and "production, staging" in e.value.message
