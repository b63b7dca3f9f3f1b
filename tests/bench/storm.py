"""Delivery against the physical limit: how close the bot's sends come to what Teams' limits allow for a storm.

The storm: BENCH_STORM_ALERTS distinct alerts, each opening an incident thread in one of BENCH_STORM_CHANNELS
channels (a response plan per channel), and at the same time BENCH_STORM_PLANS plans proposed by people in one
channel (each a new post, the bot's card in its reply chain). The Connector enforces Teams' documented limits
(sandbox/connector/limits.py: per bot per thread, all bots per thread, 50 a second per app per tenant), and the bot
keeps its own pace (TEAMS_SENDS_PER_SECOND, its default).

Measured: the time from the first alert posted to the last call Teams took once every card is out, against the
earliest time the same calls (the ones Teams took, each thread's in the order they were made) could have gone out
within those limits, found by admitting each call as soon as every window allows (`ideal_seconds`): the ratio of the
two is the share of the physical limit the bot reached. Every 429 Teams answered is counted, and those after the
first two seconds (the longest of the short windows) apart. Run once with one instance (SQLite) and once with three
instances on one app sharing Table Storage and the alert queue (Azurite), alerts and proposals spread over them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from sandbox import Sandbox
from sandbox.connector.core import call_thread
from sandbox.connector.limits import TeamsLimits
from sandbox.driver import TeamsDriver
from sandbox.monitor import alert_payload
from sandbox.world import HOME_TENANT_ID, Channel, User
from tests.azurite import Azurite

from .processes import Server, start_bot, wait_for_outbox

ALERTS = int(os.environ.get("BENCH_STORM_ALERTS", "1000"))
CHANNELS = int(os.environ.get("BENCH_STORM_CHANNELS", "20"))
PROPOSALS = int(os.environ.get("BENCH_STORM_PLANS", "200"))
INSTANCES = [int(n) for n in os.environ.get("BENCH_STORM_INSTANCES", "1,3").split(",") if n]
GOAL = 0.9
FIRST_WINDOW = 2.0  # seconds: 429s within it are the price of not knowing Teams' counts; after it, none is
DEADLINE = 1200.0
STALLED = 90.0  # seconds with every outbox empty and no new card: what is missing will not come
WRITES = {"create_conversation", "send", "reply", "update"}


@dataclass
class Storm:
    label: str
    instances: int
    seconds: float  # first alert posted to the last call Teams took
    ideal: float  # the earliest the same calls could all have been taken within Teams' limits
    calls: int  # calls Teams took (writes and member reads)
    writes: int  # messages delivered: threads opened, messages sent, cards updated
    limited: int  # calls answered 429
    limited_late: int  # of them, after the first window
    threads: int  # incident threads showing a card
    cards: int  # proposals answered with a card
    limited_by: dict[str, int]  # 429s by operation

    @property
    def ratio(self) -> float:
        return self.ideal / self.seconds if self.seconds else 0.0

    @property
    def complete(self) -> bool:
        return self.threads == ALERTS and self.cards == PROPOSALS


def channel(k: int, run: int) -> Channel:
    """Storm channel `k` of run `run` (each run its own channels: Teams' windows and the counts start empty)."""
    return Channel("19:storm-team@thread.tacv2", "Storm", f"19:storm{run}-{k}@thread.tacv2", f"Storm {k}")


def proposals_channel(run: int) -> Channel:
    return Channel("19:storm-team@thread.tacv2", "Storm", f"19:storm{run}-proposals@thread.tacv2", "Proposals")


def response_plans(box: Sandbox, path: Path, run: int) -> Path:
    """A reviewed response plan per storm channel, answering the alert rules `Storm <k> *`."""
    plans = [
        {
            "name": f"storm-{k}",
            "match": {"alertRules": [f"Storm {k} *"]},
            "operation": "restart",
            "mode": "review",
            "responders": [box.world.user(n).object_id for n in ("alice", "bob")],
            "scopes": [f"/subscriptions/{box.world.subscription_id}"],
            "channel": {"id": channel(k, run).channel_id, "serviceUrl": box.connector.base_url},
        }
        for k in range(CHANNELS)
    ]
    path.write_text(json.dumps({"responsePlans": plans}))
    return path


def ideal_seconds(calls: list[tuple[str, str]]) -> float:
    """The earliest the last of `calls` ((operation, thread), each thread's in order) can be taken within Teams'
    limits, admitting every call as soon as all its windows allow (one app, one tenant)."""
    limits, queues = TeamsLimits(), {}
    for operation, thread in calls:
        queues.setdefault(thread, deque()).append(operation)
    now = last = 0.0
    while queues:
        progressed = True
        while progressed:
            progressed = False
            for thread in list(queues):
                queue = queues[thread]
                if limits.wait("app", queue[0], thread, now) <= 1e-9:
                    limits.admit("app", queue.popleft(), thread, now)
                    last, progressed = now, True
                    if not queue:
                        del queues[thread]
        if queues:
            now += max(1e-6, min(limits.wait("app", q[0], t, now) for t, q in queues.items()))
    return last


async def _on_sandbox(box: Sandbox, read: Any) -> Any:
    async def run() -> Any:
        return read()

    return await asyncio.to_thread(box.thread.call, run)


def _shown(box: Sandbox, seen: int) -> tuple[int, list[Any]]:
    fresh = list(itertools.islice(box.connector.activities.values(), seen, None))
    return seen + len(fresh), fresh


async def _until_delivered(box: Sandbox, bots: list[Server], run: int, seen: int) -> tuple[int, int]:
    """Wait until every alert's thread and every proposal show a card and every outbox is empty (`seen`: the
    activities the Connector held before the storm)."""
    storm = {channel(k, run).channel_id for k in range(CHANNELS)}
    threads: set[str] = set()
    cards: set[str] = set()
    deadline = time.monotonic() + DEADLINE
    progress = time.monotonic()
    while time.monotonic() < deadline:
        seen, fresh = await _on_sandbox(box, lambda s=seen: _shown(box, s))
        if fresh:
            progress = time.monotonic()
        for a in fresh:
            root = a.conversation_id.split(";messageid=")[0]
            if a.activity.get("attachments") and root in storm:
                threads.add(a.conversation_id)
            elif a.activity.get("attachments") and root == proposals_channel(run).channel_id:
                cards.add(a.conversation_id)
        if len(threads) >= ALERTS and len(cards) >= PROPOSALS and await _drained(bots):
            break
        if time.monotonic() - progress > STALLED and await _drained(bots):
            break  # reported incomplete
        await asyncio.sleep(0.5)
    return len(threads), len(cards)


async def _drained(bots: list[Server]) -> bool:
    return all(await asyncio.gather(*(asyncio.to_thread(lambda b=b: b.ready().get("outbox_depth") == 0) for b in bots)))


async def _post_alerts(bots: list[Server], secret: str, box: Sandbox, run: int) -> None:
    vm = next(v for v in box.world.vms if v.name == "dev-01")
    payloads = [alert_payload(f"Storm {i % CHANNELS} disk full #{i}", [vm]) for i in range(ALERTS)]
    limit = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def post(i: int, payload: dict[str, Any]) -> None:
            url = f"http://127.0.0.1:{bots[i % len(bots)].port}/api/incidents?code={secret}"
            async with limit, session.post(url, json=payload) as r:
                await r.read()
                if r.status != 202:
                    raise RuntimeError(f"alert {i}: HTTP {r.status}")

        await asyncio.gather(*(post(i, p) for i, p in enumerate(payloads)))


async def _propose(bots: list[Server], box: Sandbox, people: list[User], run: int) -> None:
    conversation = TeamsDriver.channel(proposals_channel(run), HOME_TENANT_ID)
    drivers = [box.driver(b.url) for b in bots]
    for d in drivers:
        await d.__aenter__()
    try:
        limit = asyncio.Semaphore(16)

        async def post(i: int) -> None:
            d = drivers[i % len(drivers)]
            async with limit:
                answer = await d.post(d.message(people[i % len(people)], "restart vm dev-01", conversation))
            if answer.status >= 300:
                raise RuntimeError(f"proposal {i}: HTTP {answer.status}")

        await asyncio.gather(*(post(i) for i in range(PROPOSALS)))
    finally:
        for d in drivers:
            await d.__aexit__(None, None, None)


async def _storm(box: Sandbox, bots: list[Server], people: list[User], label: str, run: int) -> Storm:
    await _on_sandbox(box, box.connector.forget_limits)
    first, shown = await _on_sandbox(box, lambda: (len(box.connector.calls), len(box.connector.activities)))
    started = time.time()
    await asyncio.gather(_post_alerts(bots, box.webhook_secret, box, run), _propose(bots, box, people, run))
    threads, cards = await _until_delivered(box, bots, run, shown)
    calls = await _on_sandbox(box, lambda: list(itertools.islice(box.connector.calls, first, None)))
    refused = {id(c) for c in await _on_sandbox(box, lambda: list(box.connector.over_limits))}
    taken = [c for c in calls if id(c) not in refused]
    ideal = ideal_seconds([(c.operation, call_thread(c.conversation_id, c.body)) for c in taken])
    late = [c for c in calls if id(c) in refused and c.at - started > FIRST_WINDOW]
    return Storm(
        label,
        len(bots),
        max(c.at for c in taken) - started if taken else 0.0,
        ideal,
        len(taken),
        len([c for c in taken if c.operation in WRITES]),
        len(refused),
        len(late),
        threads,
        cards,
        {op: len([c for c in calls if id(c) in refused and c.operation == op]) for op in sorted({c.operation for c in calls})},
    )


def run(box: Sandbox, tmp: Path, sdk: str, azurite: Azurite | None, people: list[User], instances: int) -> Storm:
    """One storm on `instances` bots: one on SQLite, or several sharing Table Storage and the alert queue."""
    box.connector.limits.per_app = True  # Teams' limits, all of them: this is what they allow
    plans = response_plans(box, tmp / f"storm-response-plans-{instances}.json", instances)
    # 200 proposals in one channel within a minute: above the bot's own abuse limit per conversation (120 a minute)
    common = {"RESPONSE_PLANS_FILE": str(plans), "RATE_LIMIT_CONVERSATION_PER_MINUTE": "10000"}
    if instances == 1:
        bots = [start_bot(box, tmp, sdk, "sqlite", None, people, tag="-storm", turn_rates=False, **common)]
        label = f"one instance, BOT_SDK={sdk}, STORE=sqlite"
    else:
        assert azurite is not None
        shared = {**common, "STORE_TABLE_PREFIX": "storm", "INBOX_QUEUE_NAME": "storm-alerts"}
        bots = [
            start_bot(box, tmp, sdk, "azure-tables", azurite, people, tag=f"-storm{i}", turn_rates=False, INSTANCE_ID=f"storm{i}", **shared)
            for i in range(instances)
        ]
        label = f"{instances} instances on one app, BOT_SDK={sdk}, STORE=azure-tables"
    try:
        for b in bots:
            wait_for_outbox(b, 60)
        all_see(bots, instances)
        return asyncio.run(_storm(box, bots, people, label, instances))
    finally:
        for b in bots:
            b.stop()
        box.connector.limits.per_app = False


def all_see(bots: list[Server], instances: int, seconds: float = 90.0) -> None:
    """Until every bot counts `instances` alive, so each paces itself at its share from the storm's start: an instance
    learns of one started after it at its next beat (a third of EXECUTION_LEASE_SECONDS), and until then sends at
    its former share (docs/design.md)."""
    deadline = time.monotonic() + seconds
    while any(b.ready().get("instances_alive") != instances for b in bots):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bots do not all see {instances} instances alive within {seconds:g} s")
        time.sleep(0.2)  # polling the bots' readiness detail, with a deadline


def goals(storms: list[Storm]) -> list[Any]:
    from .report import Goal

    return [
        Goal(
            f"delivery in a storm, {s.label.split(',')[0]}",
            f"≥ {GOAL}x what Teams' limits allow, no 429 after the first {FIRST_WINDOW:.0f} s",
            f"{s.ratio:.2f}x ({s.seconds:.0f} s vs {s.ideal:.0f} s), {s.limited} 429s, {s.limited_late} after the first window"
            + ("" if s.complete else f"; **incomplete**: {s.threads}/{ALERTS} threads, {s.cards}/{PROPOSALS} cards"),
            s.ratio >= GOAL and s.limited_late == 0 and s.complete,
        )
        for s in storms
    ]


def by(counts: dict[str, int]) -> str:
    shown = ", ".join(f"{op} {n}" for op, n in counts.items() if n)
    return f": {shown}" if shown else ""


def table(storms: list[Storm]) -> str:
    rows = [
        "| run | threads with a card | proposals with a card | calls Teams took (messages) | took s | Teams' limits allow s | "
        "share of the limit | 429s (after the first window) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in storms:
        rows.append(
            f"| {s.label} | {s.threads}/{ALERTS} | {s.cards}/{PROPOSALS} | {s.calls} ({s.writes}) | {s.seconds:.1f} | {s.ideal:.1f} | "
            f"{s.ratio:.2f}x | {s.limited} ({s.limited_late}){by(s.limited_by)} |"
        )
    return "\n".join(rows)
