"""Several instances of the bot behind one Azure Bot Service, sharing Azure Table Storage (Azurite): scale-out, the
overlap of a slot swap, a rolling restart. Teams' activities are spread across the instances; every guarantee of one
instance holds for all of them together: one write to Azure per approved plan, no plan interrupted while an instance
is running it, and a plan whose instance died ended (never run again) by another once its execution lease lapsed.

An instance "killed" here stops its event loop where it stands (`crash`): no clean-up runs, its heartbeat stops,
its leases and outbox claims stay in the store as a process killed with SIGKILL leaves them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import Conversation

from .conftest import azure_tables_settings
from .harness import RunningBot, Teams, approve_100_times_across, bot_settings, eventually, start_bot

LEASE_SECONDS = "2"  # short, so a dead instance's plans are recovered within the test (production default: 30)
VM = "dev-01"


@pytest.fixture
def cluster(sandbox: Sandbox, store_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., RunningBot]]:
    """Starts instances of the bot sharing one Table Storage store (as several App Service instances do)."""
    shared = {
        **azure_tables_settings(request),
        "RATE_LIMIT_PERSON_PER_MINUTE": "100000",  # one person clicks 100 times here
        "RATE_LIMIT_CONVERSATION_PER_MINUTE": "100000",
    }
    started: list[RunningBot] = []

    def start(lease_seconds: str = LEASE_SECONDS) -> RunningBot:
        running = start_bot(bot_settings(sandbox, store_path, **shared, EXECUTION_LEASE_SECONDS=lease_seconds))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def crash(bot: RunningBot) -> None:
    """Stop the instance like SIGKILL would, as far as the store and Teams can tell: its loop stops between two
    steps; nothing it was doing finishes, nothing is cleaned up, no lease or claim is handed back."""
    bot.thread.loop.call_soon_threadsafe(bot.thread.loop.stop)


async def plan_in(bot: RunningBot, conversation: Conversation) -> Any:
    plans = await bot.container.store.in_states(set(PlanState))
    return next(p for p in plans if p.thread and p.thread.conversation_id == conversation.id)


async def events_named(bot: RunningBot, plan_id: str, name: str) -> int:
    return len([e for e in await bot.container.store.events(plan_id) if e.event == name])


async def nothing_left_to_send(bots: list[RunningBot]) -> None:
    """Every message the instances wrote (the dead one's too) was sent: no message is lost or given up."""
    for running in bots:
        await running.settled(timeout=60)
    store = bots[0].container.store
    assert await asyncio.to_thread(store.outbox_depth) == 0
    assert await asyncio.to_thread(store.dead_letters) == 0


async def test_100_concurrent_approvals_spread_over_three_instances_write_to_azure_once(
    sandbox: Sandbox, cluster: Callable[..., RunningBot], chat: Conversation
) -> None:
    bots = [cluster(lease_seconds="30") for _ in range(3)]  # the default: 100 clicks at once slow the emulator down
    before = await approve_100_times_across(sandbox, [b.messages_url for b in bots], chat, VM, timeout=60)
    await nothing_left_to_send(bots)
    assert sandbox.arm.writes_to(VM) == before + 1
    plan = await plan_in(bots[2], chat)
    assert plan.state is PlanState.SUCCEEDED
    assert await events_named(bots[1], plan.id, "execution_started") == 1


async def test_an_instance_killed_during_a_long_operation_leaves_its_plan_interrupted_by_another_never_run_twice(
    sandbox: Sandbox, cluster: Callable[..., RunningBot], chat: Conversation, long_operations: Callable[[float], None]
) -> None:
    bots = [cluster() for _ in range(3)]
    long_operations(600)  # the restart is still running on Azure's side when its instance dies
    async with contextlib.AsyncExitStack() as stack:
        drivers = [await stack.enter_async_context(sandbox.driver(b.messages_url)) for b in bots]
        teams = Teams(drivers[0], sandbox)
        card = await teams.ask("carol", f"restart vm {VM}", chat)
        before = sandbox.arm.writes_to(VM)
        await Teams(drivers[1], sandbox).click("alice", chat, card, "approve")  # instance 1 runs the plan

        async def sent_to_azure() -> bool:
            return sandbox.arm.writes_to(VM) == before + 1

        await eventually(sent_to_azure, "the restart reaches Azure", timeout=30)
        plan = await plan_in(bots[0], chat)
        lease = await bots[0].container.store.lease(plan.id)
        assert plan.state is PlanState.EXECUTING
        assert lease is not None and lease.owner == bots[1].container.store.leases.owner
        crash(bots[1])
        survivors = [bots[0], bots[2]]

        await teams.wait_card(card, "Interrupted", timeout=60)  # by a survivor, once the lease lapsed
        notice = await teams.wait_reply(card, "Interrupted", timeout=60)
        assert notice.conversation_id == card.conversation_id
        await nothing_left_to_send(survivors)
    assert sandbox.arm.writes_to(VM) == before + 1  # never run again
    plan = await plan_in(bots[0], chat)
    assert plan.state is PlanState.INTERRUPTED
    assert await events_named(bots[2], plan.id, "execution_started") == 1
    assert await events_named(bots[2], plan.id, "plan_interrupted") == 1


async def test_a_rolling_restart_lets_the_running_plan_finish_and_never_interrupts_it(
    sandbox: Sandbox, cluster: Callable[..., RunningBot], chat: Conversation, long_operations: Callable[[float], None]
) -> None:
    old = cluster()
    long_operations(4)  # several leases long: the old instance's heartbeat has to keep its claim
    async with sandbox.driver(old.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", f"restart vm {VM}", chat)
        before = sandbox.arm.writes_to(VM)
        await teams.click("alice", chat, card, "approve")

        async def sent_to_azure() -> bool:
            return sandbox.arm.writes_to(VM) == before + 1

        await eventually(sent_to_azure, "the restart reaches Azure", timeout=30)
    new = cluster()  # up before the old one stops: its start-up recovery and sweeps see the plan running
    await asyncio.to_thread(old.stop)  # the old instance drains its execution, then stops
    async with sandbox.driver(new.messages_url) as d:
        await Teams(d, sandbox).wait_card(card, "Succeeded", timeout=60)
        await nothing_left_to_send([new])
    plan = await plan_in(new, chat)
    assert plan.state is PlanState.SUCCEEDED
    assert await events_named(new, plan.id, "plan_interrupted") == 0
    assert sandbox.arm.writes_to(VM) == before + 1
