"""The scale of the work, not just its rate: a store holding BENCH_STORED plans (finished and waiting) against an
empty one, for Approve, `pending` and start-up (the recovery scan), on each of BENCH_STORES.

The plans are written through the bot's own store adapter (its units of work), each with the audit trail a plan of
its state would have: most finished (succeeded, denied, expired), BENCH_STORED_WAITING of them waiting for consent
(other approvers', not yet expired). Neither kind concerns the people the loads come from, so the bot's answers are
the same with either store: what is measured is only whether the work grows with what the store holds.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.adapters.store.sqlite import SqliteStore
from bot.adapters.store.tables import TableStore
from bot.domain.audit import AuditEvent, AuditEventName
from bot.domain.consent import ConsentPolicy
from bot.domain.plan import Approval, Operation, Person, Plan, PlannedAction, PlanState, ResourceRef, Thread, ThreadKind
from sandbox import Sandbox
from sandbox.world import HOME_TENANT_ID, User
from tests.azurite import Azurite

from . import loads
from .approve import plans_to_approve
from .loads import Chats, Replies, Result
from .processes import Server, median, start_bot, start_up_seconds, wait_for_outbox

STORED = int(os.environ.get("BENCH_STORED", "10000"))
WAITING = int(os.environ.get("BENCH_STORED_WAITING", "500"))  # of them waiting (a 30-minute expiry keeps this few)
GOAL = 1.2  # no more than 20% slower than with an empty store
FINISHED = (PlanState.SUCCEEDED, PlanState.DENIED, PlanState.EXPIRED, PlanState.SUCCEEDED)
E = AuditEventName
EVENTS = {  # the trail each kind of plan leaves
    PlanState.SUCCEEDED: (E.PLAN_PROPOSED, E.CONSENT_REQUESTED, E.APPROVAL_GIVEN, E.EXECUTION_STARTED, E.ACTION_SUCCEEDED),
    PlanState.DENIED: (E.PLAN_PROPOSED, E.CONSENT_REQUESTED, E.PLAN_DENIED),
    PlanState.EXPIRED: (E.PLAN_PROPOSED, E.CONSENT_REQUESTED, E.PLAN_EXPIRED),
    PlanState.AWAITING_CONSENT: (E.PLAN_PROPOSED, E.CONSENT_REQUESTED),
}


@dataclass
class Scale:
    store: str
    stored: int
    empty: dict[str, Result]  # "pending", "Approve"
    full: dict[str, Result]
    start_empty: list[float]
    start_full: list[float]
    fill_seconds: float


def stored_plan(i: int, box: Sandbox, now: datetime) -> tuple[Plan, list[AuditEvent]]:
    """Plan `i` of the filled store with its audit trail: someone else's, in another chat."""
    w = box.world
    requester = Person(f"00000000-0000-4000-8000-{i:012d}", f"Requester {i}", HOME_TENANT_ID)
    approver = Person(f"00000000-0000-4000-9000-{i:012d}", f"Approver {i}", HOME_TENANT_ID)
    waiting = i < WAITING
    state = PlanState.AWAITING_CONSENT if waiting else FINISHED[i % len(FINISHED)]
    created = now - timedelta(minutes=5 if waiting else 40 + i)
    plan = Plan(
        id=f"p-stored{i:06d}",
        title="Restart VM dev-01",
        rationale="The web tier stopped answering health probes after the last deployment.",
        actions=(PlannedAction(Operation.RESTART, ResourceRef(w.subscription_id, "rg-dev", "dev-01")),),
        requested_by=requester,
        policy=ConsentPolicy(approvers=frozenset({approver.object_id})),
        created_at=created,
        expires_at=now + timedelta(hours=6) if waiting else created + timedelta(minutes=30),
        thread=Thread(
            box.connector.base_url, f"19:stored-{i}@thread.v2", HOME_TENANT_ID, ThreadKind.GROUP_CHAT, f"{1_600_000_000_000 + i}"
        ),
        state=state,
    )
    if state is PlanState.SUCCEEDED:
        plan = replace(plan, approvals=(Approval(approver, created),), decided_by=approver, started_at=created, finished_at=created)
    elif state is PlanState.DENIED:
        plan = replace(plan, decided_by=approver, finished_at=created)
    events = [AuditEvent(created, plan.id, requester.object_id, requester.name, e.value) for e in EVENTS[state]]
    return plan, events


async def fill(store: SqliteStore | TableStore, box: Sandbox, n: int) -> None:
    now = datetime.now(UTC)
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            plan, events = stored_plan(queue.pop(), box, now)
            async with store.unit_of_work() as uow:
                uow.add(plan)
                for e in events:
                    uow.record(e)

    await asyncio.gather(*(worker() for _ in range(16 if isinstance(store, TableStore) else 1)))


async def filled(box: Sandbox, tmp: Path, store: str, azurite: Azurite | None) -> tuple[dict[str, str], float]:
    """A store holding STORED plans; the settings that point a bot at it, and how long writing it took."""
    start = asyncio.get_running_loop().time()
    if store == "sqlite":
        path = tmp / "stored.sqlite3"
        sqlite = SqliteStore(path)
        try:
            await fill(sqlite, box, STORED)
        finally:
            sqlite.close()
        return {"STORE_PATH": str(path)}, asyncio.get_running_loop().time() - start
    assert azurite is not None
    tables = TableStore.from_connection_string(azurite.connection_string, "stored")
    try:
        await fill(tables, box, STORED)
    finally:
        await tables.aclose()
    return {"STORE_TABLE_PREFIX": "stored"}, asyncio.get_running_loop().time() - start


async def compare(
    box: Sandbox, empty: Server, full: Server, people: list[User], requests: int, concurrency: int, rounds: int = 2
) -> tuple[dict[str, Result], dict[str, Result]]:
    """`pending` and Approve on both bots, taking turns in `rounds` rounds (the machine's other load falls on both)."""
    replies = Replies(box)
    bots = (empty, full)
    drivers = [box.driver(b.url) for b in bots]
    parts: list[dict[str, list[Result]]] = [{"pending": [], "Approve": []}, {"pending": [], "Approve": []}]
    for d in drivers:
        await d.__aenter__()
    try:
        clicks = []
        for bot, d in zip(bots, drivers, strict=True):
            chats = Chats(f"scale-{bot.port}")
            await loads.messages("warm-up", bot.name, chats.messages(d, people, 20, "pending"), d, replies, 10)
            clicks.append(await plans_to_approve(box, bot.url, f"scale-{bot.port}", people))
            await asyncio.to_thread(wait_for_outbox, bot)
        for i in range(rounds):
            for k, (bot, d) in enumerate(zip(bots, drivers, strict=True)):
                batch = Chats(f"scale-{bot.port}-{i}").messages(d, people, requests // rounds, "pending")
                parts[k]["pending"].append(await loads.messages("`pending`", bot.name, batch, d, replies, concurrency))
                burst = clicks[k][i::rounds]
                parts[k]["Approve"].append(await loads.clicks("Approve", bot.name, burst, d, len(burst)))
                await asyncio.to_thread(wait_for_outbox, bot)
    finally:
        for d in drivers:
            await d.__aexit__(None, None, None)
    merged = [{k: loads.merge(v) for k, v in side.items()} for side in parts]
    return merged[0], merged[1]


def run(
    box: Sandbox, tmp: Path, store: str, azurite: Azurite | None, people: list[User], requests: int, concurrency: int, starts: int
) -> Scale:
    settings, took = asyncio.run(filled(box, tmp, store, azurite))
    sdk = "botbuilder"

    def bot(tag: str, **extra: str) -> Server:
        return start_bot(box, tmp, sdk, store, azurite, people, tag=tag, **extra)

    empty_starts: list[float] = []
    full_starts: list[float] = []
    for i in range(starts):  # taking turns, as the loads do: each empty start on a store of its own
        empty_starts += start_up_seconds(lambda i=i: bot(f"-scale-empty{i}"), 1)
        full_starts += start_up_seconds(lambda: bot("-scale-full", **settings), 1)
    empty, full = bot("-scale-empty"), bot("-scale-full", **settings)
    try:
        before, after = asyncio.run(compare(box, empty, full, people, requests, concurrency))
    finally:
        empty.stop()
        full.stop()
    return Scale(store, STORED, before, after, empty_starts, full_starts, took)


def goals(scales: list[Scale]) -> list[Any]:
    from .report import Goal

    out = []
    for s in scales:
        slow = {k: s.empty[k].per_second / s.full[k].per_second for k in s.empty if s.full[k].per_second}
        slow["start-up"] = median(s.start_full) / median(s.start_empty)
        worst = max(slow, key=lambda k: slow[k])
        failed = any(r.failed for r in (*s.empty.values(), *s.full.values()))
        measured = ", ".join(f"{k} {v:.2f}x" for k, v in slow.items())
        goals_met = all(v <= GOAL for v in slow.values()) and not failed
        out.append(
            Goal(
                f"{s.stored:,} stored plans, STORE={s.store}",
                f"Approve, `pending`, start-up ≤ {GOAL:.1f}x the empty store's time",
                f"{measured} (worst: {worst})",
                goals_met,
            )
        )
    return out


def _rate(r: Result) -> str:
    return f"{r.per_second:.0f} ({r.p99_ms:.0f})" + (f" **{r.failed} failed**" if r.failed else "")


def table(scales: list[Scale]) -> str:
    rows = [
        "| store | plans stored | `pending` req/s (p99 ms) | Approve req/s (p99 ms) | start-up s, median | written in |",
        "|---|---|---|---|---|---|",
    ]
    for s in scales:
        for label, side, starts in (("empty", s.empty, s.start_empty), (f"{s.stored:,}", s.full, s.start_full)):
            p, a = side["pending"], side["Approve"]
            fill = f"{s.fill_seconds:.0f} s" if side is s.full else ""
            rows.append(f"| {s.store} | {label} | {_rate(p)} | {_rate(a)} | {median(starts):.2f} | {fill} |")
    return "\n".join(rows)
