"""The properties every fuzzed example must keep, checked against the store file and the ARM simulator.

- never a 5xx (`assert_not_5xx`, on the HTTP status and on an invoke's `statusCode`);
- nothing already stored is lost or altered: every plan row and every audit row from before is still there,
  unchanged; the only differences are additions (new plans the example was entitled to create, new audit rows);
- no ARM write at all: no example carries a valid, authenticated, authorised approval, so none may write.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.driver import InvokeResult

from ..integration.harness import RunningBot

# state, version, the stored plan as stored (JSON text: compared as is, and decoding every plan for every example
# made a run slow down as the store grew); a new plan is handed to its check decoded (PlanRow)
StoredRow = tuple[str, int, str]
PlanRow = tuple[str, int, dict[str, Any]]


@dataclass(frozen=True)
class Snapshot:
    plans: dict[str, StoredRow]
    audit: list[tuple[Any, ...]]
    writes: int


def snapshot(store: Path, sandbox: Sandbox) -> Snapshot:
    """The store's plans and audit as they are now (read straight from the file), and the ARM writes so far."""
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        plans = {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, state, version, data FROM plans")}
        audit = conn.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    finally:
        conn.close()
    return Snapshot(plans, audit, len(sandbox.arm.writes))


# A deadline, not a timed assertion: on a loaded machine (a load average of 18 on 2 cores was seen) the bot's
# background work for one example (a thread opened and a card posted, through the sandbox's Bot Connector) took
# more than 15 s. Only a real hang should fail, and the failure says what is still pending.
SETTLE_SECONDS = float(os.environ.get("FUZZ_SETTLE_SECONDS") or 300)


async def pending_work(bot: RunningBot) -> str:
    """What keeps the bot from being idle, for the failure message; runs on the bot's loop (bot.thread.call)."""
    c = bot.container
    tasks = sorted(t.get_name() for t in getattr(c.tasks, "_tasks", ()))
    # the workers' in-flight maps are private (and being reworked): read defensively, for the message only
    inbox, outbox = (sorted(map(str, getattr(w, "_inflight", {}))) for w in (c.inbox, c.outbox))
    store = c.store
    inbox_depth, outbox_depth, dead = await asyncio.to_thread(lambda: (store.inbox_depth(), store.outbox_depth(), store.dead_letters()))
    due = await store.next_message_due()  # a message being retried (back-off) has its next attempt in the future
    next_send = "-" if due is None else f"in {due - time.time():.1f} s"
    return (
        f"{c.tasks.pending} background task(s) {tasks[:10]}; inbox: {inbox_depth} alert(s) pending, in hand {inbox[:10]}; "
        f"outbox: {outbox_depth} message(s) pending, in hand {outbox[:10]}, {dead} dead letter(s), next send due {next_send}"
    )


async def settle(bot: RunningBot, timeout: float | None = None) -> None:
    """Wait until the bot's background work (card updates, replies) is done, so the next example starts clean.

    Called before each example's snapshot as well as after its request: an example that failed (its settle ran
    out of time, or an assertion fired first) must not leave work that lands in the next example's window and is
    then reported as a second, unreproducible failure (seen: a plan of the failed example had its card recorded,
    version 1 -> 2, during the next example)."""
    deadline = time.monotonic() + (SETTLE_SECONDS if timeout is None else timeout)
    pause = 0.005  # growing to 50 ms: each look costs the (shared) CPU two store queries on the bot's loop
    # the inbox's alerts and the outbox's messages included (they run after the answer too)
    while not await asyncio.to_thread(bot.thread.call, bot.container.idle):
        if time.monotonic() >= deadline:
            pending = await asyncio.to_thread(bot.thread.call, lambda: pending_work(bot))
            raise AssertionError(f"background work did not finish in time: {pending}")
        await asyncio.sleep(pause)
        pause = min(0.05, pause * 1.5)


async def starting_snapshot(bot: RunningBot, store: Path, sandbox: Sandbox) -> Snapshot:
    """The snapshot an example compares against, taken once whatever earlier examples left running is done."""
    await settle(bot)
    return snapshot(store, sandbox)


def assert_not_5xx(status: int, body: Any = None) -> None:
    assert status < 500, f"HTTP {status}: {body!r}"[:2000]
    if isinstance(body, dict) and isinstance(body.get("statusCode"), int):
        assert body["statusCode"] < 500, f"invoke statusCode {body['statusCode']}: {body!r}"[:2000]


def assert_invoke_ok(result: InvokeResult) -> None:
    assert_not_5xx(result.status, result.body)


NewPlan = Callable[[str, PlanRow], None]  # checks one plan the example added (raises AssertionError)


def no_new_plan(plan_id: str, row: PlanRow) -> None:
    raise AssertionError(f"plan {plan_id} was created: {row!r}"[:2000])


def _expired_when_due(before: StoredRow, after: StoredRow) -> bool:
    """The one change time alone may make: a plan still waiting for consent expires once its own expiry has
    passed. A caller may ask for a shorter expiry than PLAN_EXPIRY_MINUTES (callers tighten only), so a plan
    proposed by an earlier example with `expiresInMinutes: 1` expires during the run, as it should."""
    if (before[0], after[0], after[1]) != ("awaiting_consent", "expired", before[1] + 1):
        return False
    expires_at = json.loads(before[2]).get("expires_at")
    return bool(expires_at) and datetime.fromisoformat(expires_at) <= datetime.now(UTC)


def _followed_up(before: StoredRow, after: StoredRow) -> bool:
    """The other changes time alone makes (bot/domain/nudges.py): a waiting plan reminded, escalated or its requester
    warned of the coming expiry, one transition each, recorded in its follow-up and nothing else. A caller may ask for
    earlier reminders and a shorter expiry, so a plan of an earlier example is followed up during the run."""
    if before[0] != after[0] or before[0] not in ("awaiting_consent", "awaiting_credentials") or after[1] != before[1] + 1:
        return False
    old, new = json.loads(before[2]), json.loads(after[2])
    for data in (old, new):
        data.pop("follow_up", None)
        data.pop("version", None)
    return bool(old == new)


def assert_preserved(before: Snapshot, after: Snapshot, sandbox: Sandbox, new_plan: NewPlan = no_new_plan) -> list[str]:
    """Only additions since `before`, each accepted by `new_plan`, and no ARM write; returns the new plans' ids."""
    lost = set(before.plans) - set(after.plans)
    assert not lost, f"plans lost: {lost}"
    for plan_id, row in before.plans.items():
        if after.plans[plan_id] != row and not _expired_when_due(row, after.plans[plan_id]) and not _followed_up(row, after.plans[plan_id]):
            raise AssertionError(f"plan {plan_id} changed: {row[:2]} -> {after.plans[plan_id][:2]}")
    assert after.audit[: len(before.audit)] == before.audit, "audit rows were altered or removed"
    added = sorted(set(after.plans) - set(before.plans))
    for plan_id in added:
        state, version, data = after.plans[plan_id]
        new_plan(plan_id, (state, version, json.loads(data)))
    assert len(sandbox.arm.writes) == before.writes, f"ARM writes: {sandbox.arm.writes[before.writes :]}"
    return added


def awaiting_consent_in(scope_prefix: str, source: str) -> NewPlan:
    """A new plan is acceptable if it only waits for consent, comes from `source`, and acts inside the scope."""

    def check(plan_id: str, row: PlanRow) -> None:
        state, _, data = row
        assert state == "awaiting_consent", f"new plan {plan_id} is {state}"
        assert data["source"] == source and data["mode"] == "review", data
        assert not data.get("approvals"), data
        for action in data["actions"]:
            assert action["resource_id"].lower().startswith(scope_prefix.lower() + "/"), action

    return check
