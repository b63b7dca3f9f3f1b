"""Nothing lost across instances (issue 28): three real bot processes share Azure Table Storage and the alert queue
(Azurite), on each Teams SDK adapter.

- 300 distinct alerts posted at once, round robin over the instances, every fifth delivered again to another instance
  (as Azure Monitor retries): every plan gets exactly one card, in its own incident thread, and no message is given
  up. The pace is Teams': all 300 threads open in one channel, and Teams allows a bot 60 new threads (and 60 messages)
  per 30 seconds per channel, whichever instance sends (sandbox/connector/limits.py enforces it), so the last card
  cannot go out much before ~134 s; the test prints how long it took and how many calls Teams refused.
- An instance killed between two writes of one alert's processing (between its two plans' transactions, or between
  the plans and the inbox entry) leaves nothing half-done: each plan stored is whole (its thread and card with it),
  and another instance completes the alert without proposing anything twice.

Run with `make test-scale` (the `scale` marker); SCALE_ALERT_ROUNDS repeats the 300 (3 in `SCALE=all`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.monitor import alert_payload

from ..azurite import Azurite
from .harness import card_text
from .processes import BotProcess, BotProcesses, http_status
from .storage_proxy import KillingProxy

pytestmark = [pytest.mark.scale, pytest.mark.timeout(1500)]

ALERTS = int(os.environ.get("SCALE_ALERTS", "300"))
ROUNDS = int(os.environ.get("SCALE_ALERT_ROUNDS", "1"))
POLL = 0.5  # seconds between looks at the store and the Connector (reading 300 plans is not free)


@pytest.fixture(params=["botbuilder", "agents"])
async def processes(request: pytest.FixtureRequest, sandbox: Sandbox, azurite: Azurite, tmp_path: Path) -> AsyncIterator[BotProcesses]:
    procs = BotProcesses(
        sandbox,
        azurite,
        tmp_path,
        shared={
            "BOT_SDK": request.param,
            "INBOX_QUEUE_NAME": f"alerts-{uuid.uuid4().hex[:12]}",
            # production-like intervals: three instances sweeping 300 plans five times a second would measure Azurite
            "EXECUTION_LEASE_SECONDS": "10",
            "SWEEP_INTERVAL_SECONDS": "5",
        },
    )
    try:
        yield procs
    finally:
        await procs.close()


async def all_see(bots: list[BotProcess], instances: int) -> None:
    """Wait until every instance counts `instances` alive (its operators' /readyz), so each paces itself at its share
    from the start."""
    deadline = time.monotonic() + 60
    for bot in bots:
        while ((await http_status(bot.readiness_url)) or (0, {}))[1].get("checks", {}).get("instances_alive") != instances:
            assert time.monotonic() < deadline, f"{bot.name} does not see {instances} instances alive"
            await asyncio.sleep(POLL)


async def post_alerts(bots: list[BotProcess], secret: str, payloads: list[dict[str, Any]]) -> dict[int, int]:
    """Every payload to instance i mod n, every fifth again to the next instance; 32 at a time. Statuses counted."""
    posts = [(bots[i % len(bots)], p) for i, p in enumerate(payloads)]
    posts += [(bots[(i + 1) % len(bots)], p) for i, p in enumerate(payloads) if i % 5 == 0]
    statuses: dict[int, int] = {}
    limit = asyncio.Semaphore(32)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def post(bot: BotProcess, payload: dict[str, Any]) -> None:
            async with limit, session.post(f"{bot.url}/api/incidents?code={secret}", json=payload) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1

        await asyncio.gather(*(post(b, p) for b, p in posts))
    return statuses


async def on_sandbox(sandbox: Sandbox, read: Any) -> Any:
    async def run() -> Any:
        return read()

    return await asyncio.to_thread(sandbox.thread.call, run)


def cards_shown(sandbox: Sandbox, channel_id: str) -> list[tuple[str, str]]:
    """(thread, card text) of every card Teams shows in the channel's threads."""
    return [
        (a.conversation_id, card_text(a.card))
        for a in sandbox.connector.activities.values()
        if a.conversation_id.startswith(channel_id + ";messageid=") and a.card is not None and not a.deleted
    ]


def pace(sandbox: Sandbox, since: float, channel_id: str) -> str:
    """When Teams took the calls in the channel since `since` (wall clock): threads opened, then cards posted."""
    calls = [c for c in list(sandbox.connector.calls) if c.at >= since]
    opened = sorted(c.at - since for c in calls if c.operation == "create_conversation")
    posted = sorted(c.at - since for c in calls if c.operation in ("send", "reply") and c.conversation_id.startswith(channel_id))
    per_30s = [len([t for t in opened if w <= t < w + 30]) for w in range(0, int(opened[-1]) + 1, 30)] if opened else []
    return (
        f"threads opened +{opened[0]:.1f}s..+{opened[-1]:.1f}s ({len(opened)} calls, per 30 s: {per_30s}), "
        f"cards +{posted[0]:.1f}s..+{posted[-1]:.1f}s ({len(posted)} calls)"
        if opened and posted
        else "no calls"
    )


async def round_of_alerts(procs: BotProcesses, bots: list[BotProcess], sandbox: Sandbox, n: int) -> float:
    """Post `n` alerts at once; wait until every plan has its card; check each has exactly one, in its own thread.
    Returns the seconds from the first post to the last card."""
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    payloads = [alert_payload(f"High CPU on {vm.name} #{i}", [vm]) for i in range(n)]
    incidents = {p["data"]["essentials"]["alertId"] for p in payloads}
    start = time.monotonic()
    statuses = await post_alerts(bots, sandbox.webhook_secret, payloads)
    assert set(statuses) <= {200, 202} and statuses.get(202, 0) >= n, statuses  # a repeat: 200, or 202 if still pending
    plans: list[Any] = []
    while True:
        plans = [p for p in await procs.store.in_states(set(PlanState)) if p.incident_id in incidents]
        if len(plans) == n and all(p.thread and p.thread.card_activity_id for p in plans):
            break
        assert time.monotonic() - start < 900, f"{len([p for p in plans if p.thread and p.thread.card_activity_id])} of {n} cards"
        await asyncio.sleep(POLL)
    took = time.monotonic() - start
    assert len({p.incident_id for p in plans}) == n  # one plan per alert: none proposed twice
    channel = sandbox.world.channels[0].channel_id
    shown = await on_sandbox(sandbox, lambda: cards_shown(sandbox, channel))
    for plan in plans:
        assert plan.state is PlanState.AWAITING_CONSENT and plan.thread.conversation_id.startswith(channel + ";messageid=")
        cards = [thread for thread, text in shown if re.search(rf"\b{plan.id}\b", text)]
        assert cards == [plan.thread.conversation_id], plan.id  # exactly one card, in its own thread
    threads: dict[str, int] = {}
    for thread, _ in shown:
        threads[thread] = threads.get(thread, 0) + 1
    assert len({p.thread.conversation_id for p in plans}) == n  # a thread per alert
    assert all(threads[p.thread.conversation_id] == 2 for p in plans)  # opened once: the incident card, then the plan's
    return took


async def test_300_alerts_at_once_on_three_instances_give_every_plan_one_card_and_nothing_is_given_up(
    processes: BotProcesses, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    bots = await processes.start_many(3)
    await all_see(bots, 3)
    for r in range(ROUNDS):
        refused, since = sandbox.connector.limited, time.time()
        took = await round_of_alerts(processes, bots, sandbox, ALERTS)

        async def sent() -> bool:
            return await asyncio.to_thread(processes.store.outbox_depth) == 0

        while not await sent():
            await asyncio.sleep(POLL)
        dead = await asyncio.to_thread(processes.store.dead_letters)
        with capsys.disabled():
            print(
                f"\n[{processes.shared['BOT_SDK']}] round {r + 1}: {ALERTS} alerts on 3 instances, "
                f"every plan's card in {took:.1f}s; calls Teams refused (429): {sandbox.connector.limited - refused}; "
                f"dead letters: {dead}\n  {pace(sandbox, since, sandbox.world.channels[0].channel_id)}"
            )
        assert dead == 0
    assert all(b.alive for b in bots)


def two_response_plans(sandbox: Sandbox, path: Path) -> Path:
    """Two reviewed response plans matching the same alert: its processing writes two plans (two partitions) and then
    the inbox entry."""
    plans = sandbox.response_plans()
    base = next(p for p in plans["responsePlans"] if p["name"] == "high-cpu")  # type: ignore[index]
    both = [
        {**base, "name": "disk-a", "match": {"alertRules": ["Disk full*"]}},
        {**base, "name": "disk-b", "match": {"alertRules": ["Disk full*"]}},
    ]
    path.write_text(json.dumps({"responsePlans": both}))
    return path


def deliveries_done(prefix: str) -> Any:
    """The request that marks an alert processed: a merge into the deliveries table saying State done."""

    def cut(method: str, path: str, body: bytes) -> bool:
        return method in ("PATCH", "MERGE") and f"/{prefix}deliveries(" in path and b'"done"' in body

    return cut


def second_plan(prefix: str) -> Any:
    """The second plan's transaction: the second entity-group batch writing a plan_proposed event."""
    seen: list[str] = []

    def cut(method: str, path: str, body: bytes) -> bool:
        if method == "POST" and path.endswith("/$batch") and b"plan_proposed" in body:
            seen.append(path)
        return len(seen) == 2

    return cut


@pytest.mark.parametrize("where", ["between-the-plans", "before-the-inbox-entry"])
async def test_an_instance_killed_between_two_writes_of_an_alert_leaves_nothing_half_done(
    processes: BotProcesses, sandbox: Sandbox, azurite: Azurite, tmp_path: Path, where: str
) -> None:
    rules = str(two_response_plans(sandbox, tmp_path / "response-plans.json"))
    cut = second_plan(processes.prefix) if where == "between-the-plans" else deliveries_done(processes.prefix)
    proxy = KillingProxy(azurite.table_port, cut)
    port = await proxy.start()
    try:
        through_proxy = re.sub(
            r"TableEndpoint=http://127\.0\.0\.1:\d+/", f"TableEndpoint=http://127.0.0.1:{port}/", azurite.connection_string
        )
        quick = {"RESPONSE_PLANS_FILE": rules, "INBOX_VISIBILITY_TIMEOUT_SECONDS": "3"}
        victim = await processes.start("victim", AZURE_STORAGE_CONNECTION_STRING=through_proxy, **quick)
        proxy.process = victim.process
        vm = next(v for v in sandbox.world.vms if v.name == "web-02")
        payload = alert_payload("Disk full on web-02", [vm])
        incident = payload["data"]["essentials"]["alertId"]
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{victim.url}/api/incidents?code={sandbox.webhook_secret}", json=payload) as r,
        ):
            assert r.status == 202
            key = (await r.json())["inboxKey"]
        await asyncio.wait_for(proxy.killed.wait(), 120)
        assert victim.process.returncode == -9

        # what the kill left: whole plans only, each with its thread's opening and its card waiting in the outbox
        left = await processes.store.for_incident(incident)
        assert len(left) == (1 if where == "between-the-plans" else 2)
        for plan in left:
            waiting = await processes.store.thread_opening(plan.thread.conversation_id)
            assert waiting is not None and waiting.failed is None and waiting.message.plan_id == plan.id
        assert plan.id in await processes.store.cards_unsent()
        assert (await processes.store.alert_state(key))[0] == "pending"

        survivor = await processes.start("survivor", **quick)  # takes the alert again once its claim lapses
        deadline = time.monotonic() + 120
        while (
            len(plans := await processes.store.for_incident(incident)) < 2
            or not all(p.thread.card_activity_id for p in plans)
            or (await processes.store.alert_state(key))[0] != "done"
        ):
            assert time.monotonic() < deadline, f"the alert is completed by the survivor: {plans}"
            await asyncio.sleep(POLL)
        while await asyncio.to_thread(processes.store.outbox_depth):
            assert time.monotonic() < deadline
            await asyncio.sleep(POLL)
        assert await asyncio.to_thread(processes.store.dead_letters) == 0
        assert survivor.alive
    finally:
        await proxy.close()
    assert sorted(p.requested_by.name for p in plans) == ["response plan disk-a", "response plan disk-b"]  # none twice
    channel = sandbox.world.channels[0].channel_id
    shown = await on_sandbox(sandbox, lambda: cards_shown(sandbox, channel))
    for plan in plans:
        assert [t for t, text in shown if re.search(rf"\b{plan.id}\b", text)] == [plan.thread.conversation_id]
        assert len([e for e in await processes.store.events(plan.id) if e.event == "plan_proposed"]) == 1
        in_thread = [text for t, text in shown if t == plan.thread.conversation_id]
        assert len(in_thread) == 2 and plan.id not in in_thread[0]  # the thread opened once: its incident card, the plan's
    assert (await processes.store.alert_state(key))[0] == "done"
