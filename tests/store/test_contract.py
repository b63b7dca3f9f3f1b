"""What every store promises (bot/ports.py: PlanStore, UnitOfWork and AuditLog), run against each backend.

The services rely on exactly these properties: every write goes through a unit of work; a save is a
compare-and-set on the plan's version (two clicks, two tasks or two instances: one wins, the other is told and
writes nothing), a transition's plan, audit events and outbox messages are written together or not at all, an
alert delivery is stored once, and the audit trail only grows, in the order it was written.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.domain import transitions as t
from bot.domain.audit import AuditEvent
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import Plan, PlanState
from bot.ports import MessageKind, OutboxMessage

from ..unit.factories import ALICE, NOW, every_state, proposed

CONCURRENCY = 12


def plan_with_id(plan_id: str, **changes: Any) -> Plan:
    return replace(proposed(), id=plan_id, **changes)


def event(plan_id: str | None, name: str, minutes: float = 0, **detail: str) -> AuditEvent:
    return AuditEvent(
        NOW + timedelta(minutes=minutes), plan_id, ALICE.object_id, ALICE.name, name, "awaiting_consent", "approved", dict(detail)
    )


def same_event(a: AuditEvent, b: AuditEvent) -> bool:
    """Equal but for `seq`, which the store assigns."""
    return replace(a, seq=None) == replace(b, seq=None)


async def add(store: Any, plan: Plan) -> Plan:
    async with store.unit_of_work() as uow:
        added: Plan = uow.add(plan)
    return added


async def save(store: Any, plan: Plan, expected_version: int) -> Plan:
    async with store.unit_of_work() as uow:
        saved: Plan = uow.save(plan, expected_version)
    return saved


async def record(store: Any, e: AuditEvent) -> None:
    async with store.unit_of_work() as uow:
        uow.record(e)


# -- plans -------------------------------------------------------------------------------------


async def test_add_stores_version_1_and_get_returns_it(store: Any) -> None:
    added = await add(store, proposed())
    assert added.version == 1
    assert await store.get(added.id) == added


async def test_get_of_an_unknown_plan_is_none(store: Any) -> None:
    assert await store.get("p-unknown") is None
    # ids come from URLs (GET /api/plans/{id}): odd characters are not found, never an error
    for odd in ("p/x", "p#x", "p?x", "p\\x", "p%2Fx", "p'x", "", "p" * 2000):
        assert await store.get(odd) is None


async def test_adding_the_same_plan_id_twice_is_refused_and_keeps_the_first(store: Any) -> None:
    first = await add(store, plan_with_id("p-twice"))
    with pytest.raises(Exception):  # noqa: B017 - the backends' own "already exists" errors
        await add(store, plan_with_id("p-twice", title="Another plan"))
    assert await store.get("p-twice") == first


@pytest.mark.parametrize("name", sorted(every_state()))
async def test_every_field_of_a_plan_in_every_state_round_trips(store: Any, name: str) -> None:
    plan = replace(every_state()[name], id=f"p-{name}")
    added = await add(store, plan)
    assert added == replace(plan, version=1)
    assert await store.get(plan.id) == added
    saved = await save(store, replace(added, reason="changed"), expected_version=1)
    assert await store.get(plan.id) == saved == replace(plan, version=2, reason="changed")


async def test_a_plans_reminders_and_escalation_round_trip(store: Any) -> None:
    """What was done about a plan nobody answered is stored with it: a restart (or another instance) does not repeat it."""
    from bot.domain.follow_up import Escalation, FollowUp

    follow_up = FollowUp(
        timedelta(seconds=3),
        timedelta(minutes=20),
        Escalation(frozenset({ALICE.object_id}), "9a9a9a9a-0000-0000-0000-00000000000a"),
        reminded_at=NOW + timedelta(seconds=3),
        escalated_at=NOW + timedelta(minutes=20),
        warned_at=NOW + timedelta(minutes=25),
    )
    added = await add(store, plan_with_id("p-followed", follow_up=follow_up))
    assert (await store.get("p-followed")) == added and added.follow_up == follow_up


async def test_save_with_the_current_version_writes_and_bumps_it(store: Any) -> None:
    added = await add(store, proposed())
    presented = t.present(added, NOW)
    saved = await save(store, presented, expected_version=1)
    assert saved.version == 2 and saved.state is PlanState.AWAITING_CONSENT
    assert await store.get(added.id) == saved


async def test_save_with_a_stale_version_raises_and_writes_nothing(store: Any) -> None:
    added = await add(store, proposed())
    current = await save(store, t.present(added, NOW), expected_version=1)
    with pytest.raises(ConcurrentUpdate) as raised:
        await save(store, replace(added, title="Stale"), expected_version=1)
    assert (raised.value.plan_id, raised.value.expected_version) == (added.id, 1)
    with pytest.raises(ConcurrentUpdate):
        await save(store, replace(added, title="From the future"), expected_version=7)
    assert await store.get(added.id) == current


async def test_save_of_a_plan_never_added_raises(store: Any) -> None:
    with pytest.raises(ConcurrentUpdate):
        await save(store, plan_with_id("p-never-added"), expected_version=1)
    assert await store.get("p-never-added") is None


async def test_concurrent_saves_of_one_version_exactly_one_wins(store: Any) -> None:
    added = await add(store, t.present(proposed(), NOW))
    attempts = [replace(added, reason=f"writer {i}") for i in range(CONCURRENCY)]
    results = await asyncio.gather(*(save(store, p, expected_version=1) for p in attempts), return_exceptions=True)
    won = [r for r in results if isinstance(r, Plan)]
    lost = [r for r in results if isinstance(r, ConcurrentUpdate)]
    assert len(won) == 1 and len(lost) == CONCURRENCY - 1, results
    assert await store.get(added.id) == won[0] and won[0].version == 2


async def test_in_states_returns_the_plans_in_those_states_only(store: Any) -> None:
    plans = {name: await add(store, replace(p, id=f"p-{name}")) for name, p in every_state().items()}
    waiting = await store.in_states({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})
    assert {p.id for p in waiting} == {plans[n].id for n in ("awaiting_consent", "awaiting_consent_one_of_two", "awaiting_credentials")}
    assert await store.in_states({PlanState.SUCCEEDED}) == [plans["succeeded"]]
    assert await store.in_states([]) == []


async def test_in_states_follows_saves(store: Any) -> None:
    added = await add(store, proposed())
    assert [p.id for p in await store.in_states({PlanState.PROPOSED})] == [added.id]
    await save(store, t.present(added, NOW), expected_version=1)
    assert await store.in_states({PlanState.PROPOSED}) == []
    assert [p.id for p in await store.in_states({PlanState.AWAITING_CONSENT})] == [added.id]


async def test_in_states_lists_the_soonest_to_expire_first(store: Any) -> None:
    for i, minutes in enumerate((30, 5, 60, 15)):
        await add(store, plan_with_id(f"p-expiry-{i}", expires_at=NOW + timedelta(minutes=minutes)))
    found = await store.in_states({PlanState.PROPOSED})
    assert [p.id for p in found] == ["p-expiry-1", "p-expiry-3", "p-expiry-0", "p-expiry-2"]


async def test_waiting_for_a_person_leaves_out_only_the_waiting_plans_that_cannot_concern_them(store: Any) -> None:
    """`pending`'s query: waiting plans listing the person, and those with an approver group (the directory decides)."""
    plans = {name: await add(store, replace(p, id=f"p-{name}")) for name, p in every_state().items()}
    carol = "carol-object-id"
    for i, minutes in enumerate((20, 10)):  # two waiting plans listing carol, and one of a group
        listed = replace(plans["awaiting_consent"], id=f"p-carol-{i}", expires_at=NOW + timedelta(minutes=minutes))
        await add(store, replace(listed, policy=replace(listed.policy, approvers=frozenset({carol, ALICE.object_id}))))
    grouped = replace(plans["awaiting_consent"], id="p-group")
    await add(store, replace(grouped, policy=replace(grouped.policy, approvers=frozenset(), approver_group="group-1")))
    finished = replace(plans["succeeded"], id="p-carol-done")
    await add(store, replace(finished, policy=replace(finished.policy, approvers=frozenset({carol}))))
    assert [p.id for p in await store.waiting_for(carol)] == ["p-carol-1", "p-carol-0", "p-group"]
    everyone = {p.id for p in await store.in_states({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})}
    mine = {p.id for p in await store.waiting_for(ALICE.object_id)}
    alices = {
        p.id
        for p in await store.in_states({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})
        if ALICE.object_id in p.policy.approvers or p.policy.approver_group
    }
    assert mine == alices and mine <= everyone


async def test_for_incident_returns_that_incidents_plans(store: Any) -> None:
    a = await add(store, plan_with_id("p-inc-a", incident_id="alert-1"))
    b = await add(store, plan_with_id("p-inc-b", incident_id="alert-1"))
    await add(store, plan_with_id("p-inc-c", incident_id="alert-2"))
    await add(store, plan_with_id("p-no-inc"))
    assert sorted(p.id for p in await store.for_incident("alert-1")) == [a.id, b.id]
    assert await store.for_incident("alert-unknown") == []
    assert await store.for_incident("alert-1' or '1' eq '1") == []  # quoted, never a filter of its own


# -- the alert inbox -----------------------------------------------------------------------------


async def test_an_alert_delivery_is_stored_once_and_a_repeat_is_recognised_once_processed(store: Any) -> None:
    key = "alert-1/fired/2026-11-24T09:00:00Z"
    assert await store.accept_alert(key, {"n": 1}, "shared_secret") == "new"
    assert await store.accept_alert(key, {"n": 1}, "shared_secret") == "pending"  # not processed yet: kept once
    assert await store.accept_alert("odd #?/\\' key " + "x" * 2000, {}, "secure_webhook") == "new"
    (due,) = [d for d in await store.due_alerts(1e12, 10) if d[0] == key]
    assert due == (key, {"n": 1}, "shared_secret", 0)
    async with store.unit_of_work() as uow:
        uow.alert_processed(key, {"matched": ["high-cpu"]})
    assert await store.accept_alert(key, {"n": 1}, "shared_secret") == "done"
    assert await store.alert_outcome(key) == {"matched": ["high-cpu"]}
    assert key not in [d[0] for d in await store.due_alerts(1e12, 10)]


async def test_concurrent_deliveries_of_one_alert_store_it_once(store: Any) -> None:
    results = await asyncio.gather(*(store.accept_alert("retried-webhook", {}, "shared_secret") for _ in range(CONCURRENCY)))
    assert sorted(results) == ["new"] + ["pending"] * (CONCURRENCY - 1)


# -- audit -----------------------------------------------------------------------------------------


async def test_audit_events_come_back_in_the_order_written(store: Any) -> None:
    written = [event("p-audit", f"event_{i}", reason=f"number {i}") for i in range(15)]  # same `at`: order by write
    for e in written:
        await record(store, e)
    back = await store.events("p-audit")
    assert len(back) == len(written) and all(same_event(a, b) for a, b in zip(back, written, strict=True))
    assert all(e.seq is not None for e in back) and [e.seq for e in back] == sorted({e.seq for e in back})


async def test_audit_events_are_filtered_by_plan_and_time(store: Any) -> None:
    await record(store, event("p-one", "plan_proposed", 0))
    await record(store, event("p-two", "plan_proposed", 1))
    await record(store, event("p-one", "approval_given", 2))
    await record(store, event(None, "approval_refused", 3, code="not_found"))  # about no plan we know
    assert [e.event for e in await store.events("p-one")] == ["plan_proposed", "approval_given"]
    assert [e.event for e in await store.events("p-one", since=NOW + timedelta(minutes=1))] == ["approval_given"]
    assert [(e.plan_id, e.event) for e in await store.events(since=NOW + timedelta(minutes=1))] == [
        ("p-two", "plan_proposed"),
        ("p-one", "approval_given"),
        (None, "approval_refused"),
    ]
    assert len(await store.events()) == 4
    assert await store.events("p-unknown") == []


async def test_audit_is_append_only_a_record_never_replaces_another(store: Any) -> None:
    first = event("p-append", "approval_given")
    await record(store, first)
    await record(store, first)  # the same event twice is two lines of the trail
    assert len(await store.events("p-append")) == 2


async def test_concurrent_audit_records_are_all_kept(store: Any) -> None:
    await asyncio.gather(*(record(store, event("p-busy", f"event_{i}")) for i in range(CONCURRENCY)))
    assert sorted(e.event for e in await store.events("p-busy")) == sorted(f"event_{i}" for i in range(CONCURRENCY))


async def test_audit_detail_and_every_field_round_trip(store: Any) -> None:
    e = AuditEvent(
        NOW,
        "p-detail",
        "agent",
        "the agent identity",
        "action_failed",
        "executing",
        "failed",
        {"code": "Conflict", "message": "Operation 'restart' is not allowed — ünïcödé ✅", "seconds": "1.5"},
    )
    await record(store, e)
    (back,) = await store.events("p-detail")
    assert same_event(back, e)


# -- units of work and the outbox ------------------------------------------------------------------


def _message(plan: Plan, kind: MessageKind, key: str = "conv-a", text: str | None = None) -> OutboxMessage:
    return OutboxMessage(kind, key, plan.id, plan.version, text=text)


async def test_a_transition_its_events_and_its_messages_are_written_together_or_not_at_all(store: Any) -> None:
    added = await add(store, plan_with_id("p-uow"))
    await save(store, replace(added, reason="someone else first"), added.version)
    with pytest.raises(ConcurrentUpdate):
        async with store.unit_of_work() as uow:
            uow.record(event(added.id, "approval_given"))
            uow.send(_message(added, MessageKind.UPDATE_CARD))
            uow.save(replace(added, state=PlanState.DENIED), added.version)  # stale: the whole unit fails
    assert await store.events(added.id) == []
    assert await store.due_messages(1e12, 10) == [] and await asyncio.to_thread(store.outbox_depth) == 0
    async with store.unit_of_work() as uow:
        current = await store.get(added.id)
        saved = uow.save(replace(current, state=PlanState.DENIED), current.version)
        uow.record(event(added.id, "plan_denied"))
        uow.send(_message(saved, MessageKind.UPDATE_CARD))
        uow.send(_message(saved, MessageKind.TEXT, text="Denied"))
    assert (await store.get(added.id)).state is PlanState.DENIED
    assert [e.event for e in await store.events(added.id)] == ["plan_denied"]
    assert await asyncio.to_thread(store.outbox_depth) == 2


async def test_the_outbox_gives_one_message_per_key_at_a_time_in_the_order_written(store: Any) -> None:
    a, b = await add(store, plan_with_id("p-out-a")), await add(store, plan_with_id("p-out-b"))
    async with store.unit_of_work() as uow:
        uow.send(_message(a, MessageKind.POST_CARD))
        uow.send(_message(a, MessageKind.TEXT, text="first"))
        uow.send(_message(b, MessageKind.POST_CARD, key="conv-b"))
    heads = await store.due_messages(1e12, 10)
    assert [(m.key, m.kind) for m in heads] == [("conv-a", MessageKind.POST_CARD), ("conv-b", MessageKind.POST_CARD)]
    first = heads[0]
    assert await store.claim_message(first.seq, "me", 100.0, 160.0) is True
    assert await store.claim_message(first.seq, "other", 100.0, 160.0) is False  # held by "me"
    assert [m.key for m in await store.due_messages(100.0, 10)] == ["conv-b"]  # conv-a waits for its head
    async with store.unit_of_work() as uow:
        uow.delivered(first.seq)
    (text,) = [m for m in await store.due_messages(1e12, 10) if m.key == "conv-a"]
    assert text.kind is MessageKind.TEXT and text.text == "first"
    await store.retry_message(text.seq, 1, 5_000.0, "HTTP 429")
    assert [m.key for m in await store.due_messages(4_999.0, 10)] == ["conv-b"]  # not before its back-off
    assert [m.attempts for m in await store.due_messages(5_000.0, 10) if m.key == "conv-a"] == [1]
    async with store.unit_of_work() as uow:
        uow.dead_letter(text.seq, "HTTP 404")
    assert await asyncio.to_thread(store.dead_letters) == 1 and await asyncio.to_thread(store.outbox_depth) == 1


async def test_a_sent_card_covers_the_card_updates_written_before_it(store: Any) -> None:
    added = await add(store, plan_with_id("p-coalesce"))
    async with store.unit_of_work() as uow:
        for version in (1, 2, 3):
            uow.send(_message(replace(added, version=version), MessageKind.UPDATE_CARD))
        uow.send(_message(replace(added, version=4), MessageKind.UPDATE_CARD))
    (head,) = await store.due_messages(1e12, 10)
    async with store.unit_of_work() as uow:
        uow.delivered(head.seq)
        uow.coalesce(added.id, 3)  # the card sent showed version 3
    (left,) = await store.due_messages(1e12, 10)
    assert left.plan_version == 4 and await asyncio.to_thread(store.outbox_depth) == 1


# -- execution leases: which instance runs a plan (several instances share the store) ---------------


async def approved(store: Any) -> Plan:
    added = await add(store, proposed())
    return await save(store, replace(added, state=PlanState.APPROVED), added.version)


async def test_moving_a_plan_into_approved_gives_its_lease_to_the_committing_instance(instances: Any) -> None:
    first = instances(owner="first")
    before = time.time()
    plan = await approved(first)
    lease = await first.lease(plan.id)
    assert lease is not None and lease.owner.startswith("first-") and lease.until > before
    assert await first.lease((await add(first, plan_with_id("p-waiting"))).id) is None  # waiting plans: no lease


async def test_the_instance_that_starts_the_execution_takes_the_lease(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    plan = await approved(first)
    executing = await save(second, replace(plan, state=PlanState.EXECUTING), plan.version)
    lease = await first.lease(executing.id)
    assert lease is not None and lease.owner.startswith("second-")


async def test_a_save_that_keeps_the_state_leaves_the_lease_with_its_holder(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    plan = await approved(first)
    executing = await save(first, replace(plan, state=PlanState.EXECUTING), plan.version)
    # another instance records the card's activity id on the running plan (the outbox worker does)
    await save(second, replace(executing, progress="card posted"), executing.version)
    lease = await second.lease(plan.id)
    assert lease is not None and lease.owner.startswith("first-")
    assert await second.renew_lease(plan.id, second.leases.owner, time.time() + 60) is False  # not its lease


async def test_moving_a_plan_out_of_an_executing_state_ends_its_lease(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    plan = await approved(first)
    interrupted = await save(second, replace(plan, state=PlanState.INTERRUPTED), plan.version)
    lease = await first.lease(interrupted.id)
    assert lease is None or lease.until <= time.time()
    assert await first.renew_lease(plan.id, first.leases.owner, time.time() + 60) is False


async def test_a_transition_that_loses_the_race_writes_no_lease(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    added = await add(first, proposed())
    await save(first, replace(added, state=PlanState.APPROVED), added.version)
    with pytest.raises(ConcurrentUpdate):
        await save(second, replace(added, state=PlanState.APPROVED), added.version)
    lease = await second.lease(added.id)
    assert lease is not None and lease.owner.startswith("first-")


async def test_the_heartbeat_keeps_the_lease_of_a_running_plan_fresh(instances: Any) -> None:
    first = instances(owner="first", lease_seconds=0.3)
    plan = await approved(first)
    lease = await first.lease(plan.id)
    assert lease is not None
    deadline = time.monotonic() + 10
    while (renewed := await first.lease(plan.id)) is not None and renewed.until <= lease.until + 0.3:
        assert time.monotonic() < deadline, "the lease was not renewed within 10s"
        await asyncio.sleep(0.02)
    assert renewed is not None and renewed.owner == lease.owner


async def test_a_store_that_stops_ends_the_leases_it_holds_so_others_recover_at_once(instances: Any) -> None:
    first, second = instances(owner="first"), instances(owner="second")
    plan = await approved(first)
    if hasattr(first, "aclose"):
        await first.aclose()
    else:
        first.close()
    lease = await second.lease(plan.id)
    assert lease is not None and lease.until <= time.time()


async def test_one_outbox_message_is_claimed_by_one_instance_at_a_time(instances: Any) -> None:
    stores = [instances(owner=f"i{i}") for i in range(3)]
    async with stores[0].unit_of_work() as uow:
        uow.send(OutboxMessage(MessageKind.TEXT, key="conv-1", thread=None, text="hello"))
    seen = [await s.due_messages(time.time(), 10) for s in stores]
    assert all(len(m) == 1 for m in seen)
    now = time.time()
    claims = (s.claim_message(m[0].seq, f"i{i}", now, now + 60) for i, (s, m) in enumerate(zip(stores, seen, strict=True)))
    won = await asyncio.gather(*claims)
    assert sorted(won) == [False, False, True]
    for s in stores:
        assert await s.due_messages(time.time(), 10) == []  # held: nobody else is given it
    winner = won.index(True)
    seq = seen[winner][0].seq
    assert await stores[winner].renew_claim(seq, f"i{winner}", time.time() + 60) is True  # its sender's heartbeat
    loser = (winner + 1) % 3
    assert await stores[loser].renew_claim(seq, f"i{loser}", time.time() + 60) is False
    async with stores[winner].unit_of_work() as uow:
        uow.delivered(seq)
    assert await stores[winner].renew_claim(seq, f"i{winner}", time.time() + 60) is False  # sent: nothing to hold
