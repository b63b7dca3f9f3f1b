"""Reminders and escalation with three real bot processes on Azure Table Storage (Azurite), as `make test-scale` runs
them (issue 26): every process sweeps every plan, and each plan is still reminded once and escalated once; a process
killed with SIGKILL and started again does not repeat either.

Each step is a compare-and-set of the plan in the same entity-group transaction as its audit event and its messages
(bot/services/follow_up.py), so the processes that lose the race write nothing. The plans are reminded after 1.2 s and
escalated after 2.4 s; then one process is killed and started again, and the test goes on until the new one has swept
the plans, still waiting, a few times (its debug log says so), so a repeat would have been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from sandbox import Sandbox
from sandbox.driver import BotMessage, TeamsDriver
from sandbox.views import plan_id_of

from ..azurite import Azurite
from .harness import Teams, eventually
from .processes import BotProcesses

pytestmark = [pytest.mark.scale, pytest.mark.timeout(600)]
PLANS = 6  # two asked through each process


@pytest.fixture
async def processes(sandbox: Sandbox, azurite: Azurite, tmp_path: Path) -> AsyncIterator[BotProcesses]:
    world = sandbox.world
    procs = BotProcesses(
        sandbox,
        azurite,
        tmp_path,
        shared={
            "DEFAULT_APPROVERS": world.user("alice").object_id,
            "REMIND_AFTER_MINUTES": "0.02",
            "ESCALATE_AFTER_MINUTES": "0.04",
            "ESCALATION_APPROVERS": world.user("bob").object_id,
            "ESCALATION_CHANNEL": world.approvals_channel.channel_id,
            "EXECUTION_LEASE_SECONDS": "2",  # a killed process's outbox claims lapse quickly
        },
    )
    sandbox.connector.installed.clear()
    try:
        yield procs
    finally:
        await procs.close()
        sandbox.connector.installed.clear()


async def count(procs: BotProcesses, plan_id: str, name: str) -> int:
    return len([e for e in await procs.store.events(plan_id) if e.event == name])


def about(messages: list[BotMessage], card: BotMessage, text: str) -> list[BotMessage]:
    """The messages saying `text` with the deep link to `card` (its chat and its message id)."""
    link = f"/{quote(card.conversation_id, safe='')}/{card.id}?"
    return [m for m in messages if link in m.text and text in m.text]


async def test_three_processes_remind_and_escalate_once_per_plan_and_a_restart_repeats_neither(
    sandbox: Sandbox, processes: BotProcesses
) -> None:
    bots = await processes.start_many(3)
    alice, bob = sandbox.world.user("alice"), sandbox.world.user("bob")
    sandbox.connector.install(bob)  # the bot creates bob's 1:1 chat when it first writes to him
    cards: list[BotMessage] = []
    async with contextlib.AsyncExitStack() as stack:
        drivers = [await stack.enter_async_context(sandbox.driver(b.messages_url)) for b in bots]
        await drivers[0].install(alice)
        for i in range(PLANS):  # spread over the processes, each in a chat of its own
            chat = TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"remind-scale-{processes.prefix}-{i}")
            cards.append(await Teams(drivers[i % 3], sandbox).ask("carol", "restart vm dev-01", chat))
        ids = [plan_id_of(c) or "" for c in cards]

        async def escalated() -> bool:
            return all([await count(processes, i, "escalated") >= 1 for i in ids])

        await eventually(escalated, "every plan was reminded and escalated", timeout=60)
        # every note sent first: the outbox delivers at least once, and a process killed between Teams taking a
        # message and its record of that would have it sent again (issue 13); what is tested here is the steps
        await eventually(lambda: _drained(processes), "every message is sent", timeout=60)
        bots[1].kill()  # SIGKILL: the steps are in the store; the process started again must not repeat them
        restarted = await processes.start("bot2-again")

        async def swept_by_the_new_one() -> bool:
            return restarted.log().count(f"follow-up sweep: {PLANS} plan(s) waiting") >= 3

        await eventually(swept_by_the_new_one, "the restarted process swept the waiting plans", timeout=60)
        await eventually(lambda: _drained(processes), "every message is sent", timeout=60)
        received = await drivers[0].bot_messages()

    alice_chat, bob_chat = TeamsDriver.personal(alice).id, TeamsDriver.personal(bob).id
    channel = sandbox.world.approvals_channel.channel_id
    for card, plan_id in zip(cards, ids, strict=True):
        assert [await count(processes, plan_id, e) for e in ("reminded", "escalated")] == [1, 1]
        assert len(about([m for m in received if m.conversation_id == alice_chat], card, "Reminder")) == 1
        assert len(about([m for m in received if m.conversation_id == bob_chat], card, "Escalated to you")) == 1
        assert len(about([m for m in received if m.conversation_id.startswith(channel)], card, "was escalated to")) == 1
    assert await asyncio.to_thread(processes.store.dead_letters) == 0


async def _drained(procs: BotProcesses) -> bool:
    return await asyncio.to_thread(procs.store.outbox_depth) == 0
