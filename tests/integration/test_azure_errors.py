"""Azure's refusals reach the thread as Azure gave them: mapped by ARM's error code, quoted verbatim once.

The runner talks to the ARM simulator through azure-mgmt-core's pipeline with the agent identity, as in production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from azure.core.credentials import AccessToken
from azure.identity.aio import ClientSecretCredential

from bot.adapters.azure.arm_runner import ArmRunner
from bot.domain.plan import Operation, PlannedAction, ResourceRef
from bot.ports import AzureError, AzureProblem, RunResult, RunStatus
from bot.services.planning import state_now
from bot.services.results import run_detail
from sandbox import Sandbox
from sandbox.arm import Fault
from sandbox.driver import Conversation, TeamsDriver
from tests.fakes import World as Fakes

from .harness import Teams, find_action, no_progress

RESTART_REFUSAL = AzureError("OperationNotAllowed", "The operation requires the VM to be running (or set to run).")


@pytest.fixture
def deallocated_dev(sandbox: Sandbox) -> Iterator[str]:
    """dev-01, deallocated for this test only (the sandbox is shared by the session)."""
    sandbox.arm.set_power_state("dev-01", "deallocated")
    yield "dev-01"
    sandbox.arm.set_power_state("dev-01", "running")  # as the world seeds it


def _action(
    sandbox: Sandbox, operation: Operation, vm: str = "dev-01", rg: str = "dev-rg", subscription: str | None = None
) -> PlannedAction:
    sub = subscription or sandbox.world.subscription_id
    resource = ResourceRef.parse(f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}")
    return PlannedAction(operation, resource)


async def test_restart_of_a_deallocated_vm_is_operation_not_allowed_with_azures_words(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential, deallocated_dev: str
) -> None:
    since = len(sandbox.arm.writes)
    action = _action(sandbox, Operation.RESTART)
    result = await runner.run(action, agent_credential, no_progress)
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.OPERATION_NOT_ALLOWED)
    assert result.azure_error == RESTART_REFUSAL
    fakes = Fakes()
    fakes.deps.runner = runner
    result = replace(result, state=await state_now(fakes.deps, action.resource))  # what run_plan reads after a refusal
    assert result.state == (("Power state", "deallocated"),)
    assert sandbox.arm.writes_to("dev-01", since=since) == 0
    detail = run_detail(action, result)
    assert detail == (
        "Azure refused: the VM must be running for a restart. dev-01 is deallocated: start it instead. "
        "Azure said: OperationNotAllowed — The operation requires the VM to be running (or set to run)."
    )
    assert "another operation" not in detail


@pytest.mark.parametrize(
    ("where", "problem", "code"),
    [
        ({"vm": "nope-01"}, AzureProblem.RESOURCE_NOT_FOUND, "ResourceNotFound"),
        ({"rg": "nope-rg"}, AzureProblem.RESOURCE_GROUP_NOT_FOUND, "ResourceGroupNotFound"),
        ({"subscription": "00000000-0000-0000-0000-00000000dead"}, AzureProblem.SUBSCRIPTION_NOT_FOUND, "SubscriptionNotFound"),
    ],
)
async def test_missing_vm_group_and_subscription_are_told_apart(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential, where: dict[str, str], problem: AzureProblem, code: str
) -> None:
    action = _action(sandbox, Operation.START, **where)
    result = await runner.run(action, agent_credential, no_progress)
    assert (result.status, result.problem) == (RunStatus.FAILED, problem)
    assert result.azure_error is not None and result.azure_error.code == code
    detail = run_detail(action, result)
    assert detail.count(result.azure_error.message) == 1 and f"Azure said: {code} — " in detail


async def test_authorization_failed_still_starts_the_credentials_flow(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential
) -> None:
    action = _action(sandbox, Operation.RESTART, vm="web-01", rg="prod-rg")
    result = await runner.run(action, agent_credential, no_progress)
    assert (result.status, result.problem) == (RunStatus.REFUSED, AzureProblem.AUTHORIZATION_FAILED)
    assert result.access_denied is not None
    assert result.access_denied.permission == "Microsoft.Compute/virtualMachines/restart/action"
    assert result.azure_error is not None and result.azure_error.code == "AuthorizationFailed"


async def test_a_failed_long_running_operation_reports_the_status_bodys_error_code(
    sandbox: Sandbox, runner: ArmRunner, agent_credential: ClientSecretCredential
) -> None:
    sandbox.arm.inject(
        Fault(
            "operation_failure", action="start", error_code="AllocationFailed", error_message="Allocation failed. Please try again later."
        )
    )
    action = _action(sandbox, Operation.START)
    try:
        result = await runner.run(action, agent_credential, no_progress)
    finally:
        sandbox.arm.set_power_state("dev-01", "running")
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.OPERATION_FAILED)
    assert result.azure_error == AzureError("AllocationFailed", "Allocation failed. Please try again later.")
    assert "Azure said: AllocationFailed — Allocation failed. Please try again later." in run_detail(action, result)


async def test_an_arm_call_that_outlives_the_read_timeout_is_unreachable_not_a_hang(
    sandbox: Sandbox, agent_credential: ClientSecretCredential
) -> None:
    runner = ArmRunner(sandbox.arm.base_url, agent_credential, None, read_timeout=0.1)
    sandbox.arm.inject(Fault("latency", latency=0.5, count=1, action="restart"))
    since = len(sandbox.arm.writes)
    action = _action(sandbox, Operation.RESTART)
    try:
        result = await runner.run(action, agent_credential, no_progress)
    finally:
        await runner.close()
    assert (result.status, result.problem, result.azure_error) == (RunStatus.FAILED, AzureProblem.UNREACHABLE, None)
    assert "could not be reached" in run_detail(action, result) and "whether the action took effect is unknown" in run_detail(
        action, result
    )
    # the simulator still carries out the slow request; let it land so no later test sees it
    deadline = asyncio.get_running_loop().time() + 5
    while sandbox.arm.writes_to("dev-01", since=since) == 0 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


def test_success_keeps_the_runners_words() -> None:
    result = RunResult(RunStatus.SUCCEEDED, "Azure reports the operation succeeded; the VM is now running.")
    vm = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    action = PlannedAction(Operation.START, ResourceRef.parse(vm))
    assert run_detail(action, result) == result.detail


async def test_a_vm_deallocated_after_the_card_was_posted_is_not_restarted_and_the_thread_says_what_changed(
    teams: Teams, sandbox: Sandbox, chat: Conversation
) -> None:
    """The card showed it running; read again at execution it is deallocated: nothing is written, the thread names
    the change and Propose again offers the plan anew (Azure's refusal of such a restart: the runner test above)."""
    since = len(sandbox.arm.writes)
    card = await teams.ask("carol", "restart vm dev-01", chat)  # running when asked: a plan is proposed
    sandbox.arm.set_power_state("dev-01", "deallocated")  # then someone deallocates it before the approval
    try:
        await teams.click("alice", chat, card, "approve")
        reply = await teams.wait_reply(card, "Failed")
        final = await teams.wait_card(card, "Failed")
    finally:
        sandbox.arm.set_power_state("dev-01", "running")  # as the world seeds it
    assert "Nothing was written: VM dev-01: its power state is deallocated now, not running as the card showed" in reply.text
    assert find_action(final, "proposeAgain") is not None
    assert sandbox.arm.writes_to("dev-01", since=since) == 0


async def test_a_restart_asked_for_a_deallocated_vm_is_answered_with_its_state_and_a_question(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, deallocated_dev: str
) -> None:
    """Nothing in Azure would come of it: the bot says the state and asks, instead of proposing a plan."""
    await driver.say(sandbox.world.user("carol"), "restart vm dev-01", chat)
    reply = await driver.wait_for(lambda m: "Did you mean" in m.text, conversation_id=chat.id)
    assert reply.text == (
        "dev-01 in dev-rg is deallocated, and a restart needs a running VM. Did you mean `start vm dev-01`? Nothing was proposed."
    )
    assert not [m for m in await driver.bot_messages(chat.id) if m.card is not None]


async def test_computes_throttling_is_told_as_throttling_not_as_a_state_refusal(
    sandbox: Sandbox, agent_credential: ClientSecretCredential
) -> None:
    """Compute throttles with 429 and code OperationNotAllowed: the TooManyRequests detail decides."""
    sandbox.arm.inject(Fault("status", status=429, count=1, retry_after=30, action="restart"))
    action = _action(sandbox, Operation.RESTART)
    # without azure-core's retries (the bot's runner would wait Retry-After and try again)
    unretried = ArmRunner(sandbox.arm.base_url, agent_credential, None, retry_total=0)
    try:
        result = await unretried.run(action, agent_credential, no_progress)
    finally:
        await unretried.close()
    assert (result.status, result.problem) == (RunStatus.FAILED, AzureProblem.THROTTLED)
    detail = run_detail(action, result)
    assert "throttling" in detail and "again in a few minutes" in detail
    assert detail.endswith(
        "Azure said: OperationNotAllowed — The server rejected the request because too many "
        "requests have been received for this subscription."
    )


class _StaticToken:
    """An async TokenCredential returning a fixed token (to present tokens Entra would never issue)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kw: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "ExpiredAuthenticationToken"),
        ("other_tenant", "InvalidAuthenticationTokenTenant"),
    ],
)
async def test_a_token_arm_rejects_is_an_authentication_failure_not_a_refusal(
    sandbox: Sandbox, runner: ArmRunner, case: str, code: str
) -> None:
    now = int(time.time())
    tid = sandbox.world.home_tenant_id if case == "expired" else sandbox.world.user("mallory").tenant_id
    claims = {
        "aud": sandbox.arm.base_url,
        "iss": f"{sandbox.entra.base_url}/{tid}/v2.0",
        "tid": tid,
        "oid": sandbox.world.user("alice").object_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    if case == "expired":
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    action = _action(sandbox, Operation.RESTART)
    result = await runner.run(action, _StaticToken(sandbox.keys.active.sign(claims)), no_progress)
    assert (result.status, result.problem, result.access_denied) == (RunStatus.FAILED, AzureProblem.AUTHENTICATION_FAILED, None)
    assert result.azure_error is not None and result.azure_error.code == code
    assert "did not accept the identity's token" in run_detail(action, result)
