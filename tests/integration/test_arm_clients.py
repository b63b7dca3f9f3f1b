"""The agent identity's ARM client is one pooled client whatever the subscription: many subscriptions named in chat
cannot pile up clients or sockets."""

from __future__ import annotations

import asyncio
import os
import resource

from azure.identity.aio import ClientSecretCredential

from bot.adapters.azure.arm_runner import ArmRunner
from bot.domain.plan import Operation, PlannedAction, ResourceRef
from bot.ports import AzureProblem
from sandbox import Sandbox

from .harness import no_progress

SUBSCRIPTIONS = 1000
WARM_UP = 16


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024


def _restart(subscription: str) -> PlannedAction:
    return PlannedAction(
        Operation.RESTART,
        ResourceRef.parse(f"/subscriptions/{subscription}/resourceGroups/dev-rg/providers/Microsoft.Compute/virtualMachines/dev-01"),
    )


async def test_a_thousand_subscriptions_leave_clients_bounded_and_descriptors_flat(
    sandbox: Sandbox, agent_credential: ClientSecretCredential
) -> None:
    runner = ArmRunner(sandbox.arm.base_url, agent_credential, None, ca_bundle=os.environ.get("SSL_CERT_FILE"))
    subscriptions = [f"00000000-0000-4000-8000-{i:012d}" for i in range(SUBSCRIPTIONS)]
    try:
        for sub in subscriptions[:WARM_UP]:  # warm up: the client exists, the credential has its token
            await runner.run(_restart(sub), agent_credential, no_progress)
        fds_before, rss_before = open_fds(), rss_mb()
        most_live = 0
        for sub in subscriptions[WARM_UP:]:
            result = await runner.run(_restart(sub), agent_credential, no_progress)
            assert result.problem is AzureProblem.SUBSCRIPTION_NOT_FOUND  # every call really went to ARM
            most_live = max(most_live, runner.live_agent_clients)
        assert most_live == 1
        # closed sockets may take a moment to leave the simulator's side (it runs in this process): poll, never sleep
        deadline = asyncio.get_running_loop().time() + 10
        while open_fds() > fds_before + 4 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        fds_after, rss_after = open_fds(), rss_mb()
        assert fds_after <= fds_before + 4, (fds_before, fds_after)
        print(
            f"\n{SUBSCRIPTIONS} subscriptions: live clients <= {most_live}; "
            f"fds {fds_before} -> {fds_after}; RSS {rss_before:.0f} MB -> {rss_after:.0f} MB "
            f"(peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )
    finally:
        await runner.close()
    assert runner.live_agent_clients == 0


async def test_concurrent_runs_share_the_one_client(sandbox: Sandbox, agent_credential: ClientSecretCredential) -> None:
    runner = ArmRunner(sandbox.arm.base_url, agent_credential, None)
    subscriptions = [f"00000000-0000-4000-9000-{i:012d}" for i in range(24)]
    try:
        results = await asyncio.gather(*(runner.run(_restart(sub), agent_credential, no_progress) for sub in subscriptions))
        assert {r.problem for r in results} == {AzureProblem.SUBSCRIPTION_NOT_FOUND}  # every call really went to ARM
        assert runner.live_agent_clients == 1
    finally:
        await runner.close()
