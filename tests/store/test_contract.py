"""What every store promises (bot/ports.py: PlanStore and AuditLog), run against each backend.

The services rely on exactly these properties: a save is a compare-and-set on the plan's version
(two clicks, two tasks or two instances: one wins, the other is told and writes nothing), a delivery
key is acted on once, and the audit trail only grows, in the order it was written.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.domain import transitions as t
from bot.domain.audit import AuditEvent
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import Plan, PlanState

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


# -- plans -------------------------------------------------------------------------------------


async def test_add_stores_version_1_and_get_returns_it(store: Any) -> None:
    added = await store.add(proposed())
    assert added.version == 1
    assert await store.get(added.id) == added


async def test_get_of_an_unknown_plan_is_none(store: Any) -> None:
    assert await store.get("p-unknown") is None
    # ids come from URLs (GET /api/plans/{id}): odd characters are not found, never an error
    for odd in ("p/x", "p#x", "p?x", "p\\x", "p%2Fx", "p'x", "", "p" * 2000):
        assert await store.get(odd) is None


async def test_adding_the_same_plan_id_twice_is_refused_and_keeps_the_first(store: Any) -> None:
    first = await store.add(plan_with_id("p-twice"))
    with pytest.raises(Exception):  # noqa: B017 - the backends' own "already exists" errors
        await store.add(plan_with_id("p-twice", title="Another plan"))
    assert await store.get("p-twice") == first


@pytest.mark.parametrize("name", sorted(every_state()))
async def test_every_field_of_a_plan_in_every_state_round_trips(store: Any, name: str) -> None:
    plan = replace(every_state()[name], id=f"p-{name}")
    added = await store.add(plan)
    assert added == replace(plan, version=1)
    assert await store.get(plan.id) == added
    saved = await store.save(replace(added, reason="changed"), expected_version=1)
    assert await store.get(plan.id) == saved == replace(plan, version=2, reason="changed")


async def test_save_with_the_current_version_writes_and_bumps_it(store: Any) -> None:
    added = await store.add(proposed())
    presented = t.present(added, NOW)
    saved = await store.save(presented, expected_version=1)
    assert saved.version == 2 and saved.state is PlanState.AWAITING_CONSENT
    assert await store.get(added.id) == saved


async def test_save_with_a_stale_version_raises_and_writes_nothing(store: Any) -> None:
    added = await store.add(proposed())
    current = await store.save(t.present(added, NOW), expected_version=1)
    with pytest.raises(ConcurrentUpdate) as raised:
        await store.save(replace(added, title="Stale"), expected_version=1)
    assert (raised.value.plan_id, raised.value.expected_version) == (added.id, 1)
    with pytest.raises(ConcurrentUpdate):
        await store.save(replace(added, title="From the future"), expected_version=7)
    assert await store.get(added.id) == current


async def test_save_of_a_plan_never_added_raises(store: Any) -> None:
    with pytest.raises(ConcurrentUpdate):
        await store.save(plan_with_id("p-never-added"), expected_version=1)
    assert await store.get("p-never-added") is None


async def test_concurrent_saves_of_one_version_exactly_one_wins(store: Any) -> None:
    added = await store.add(t.present(proposed(), NOW))
    attempts = [replace(added, reason=f"writer {i}") for i in range(CONCURRENCY)]
    results = await asyncio.gather(*(store.save(p, expected_version=1) for p in attempts), return_exceptions=True)
    won = [r for r in results if isinstance(r, Plan)]
    lost = [r for r in results if isinstance(r, ConcurrentUpdate)]
    assert len(won) == 1 and len(lost) == CONCURRENCY - 1, results
    assert await store.get(added.id) == won[0] and won[0].version == 2


async def test_in_states_returns_the_plans_in_those_states_only(store: Any) -> None:
    plans = {name: await store.add(replace(p, id=f"p-{name}")) for name, p in every_state().items()}
    waiting = await store.in_states({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})
    assert {p.id for p in waiting} == {plans[n].id for n in ("awaiting_consent", "awaiting_consent_one_of_two", "awaiting_credentials")}
    assert await store.in_states({PlanState.SUCCEEDED}) == [plans["succeeded"]]
    assert await store.in_states([]) == []


async def test_in_states_follows_saves(store: Any) -> None:
    added = await store.add(proposed())
    assert [p.id for p in await store.in_states({PlanState.PROPOSED})] == [added.id]
    await store.save(t.present(added, NOW), expected_version=1)
    assert await store.in_states({PlanState.PROPOSED}) == []
    assert [p.id for p in await store.in_states({PlanState.AWAITING_CONSENT})] == [added.id]


async def test_in_states_lists_the_soonest_to_expire_first(store: Any) -> None:
    for i, minutes in enumerate((30, 5, 60, 15)):
        await store.add(plan_with_id(f"p-expiry-{i}", expires_at=NOW + timedelta(minutes=minutes)))
    found = await store.in_states({PlanState.PROPOSED})
    assert [p.id for p in found] == ["p-expiry-1", "p-expiry-3", "p-expiry-0", "p-expiry-2"]


async def test_for_incident_returns_that_incidents_plans(store: Any) -> None:
    a = await store.add(plan_with_id("p-inc-a", incident_id="alert-1"))
    b = await store.add(plan_with_id("p-inc-b", incident_id="alert-1"))
    await store.add(plan_with_id("p-inc-c", incident_id="alert-2"))
    await store.add(plan_with_id("p-no-inc"))
    assert sorted(p.id for p in await store.for_incident("alert-1")) == [a.id, b.id]
    assert await store.for_incident("alert-unknown") == []
    assert await store.for_incident("alert-1' or '1' eq '1") == []  # quoted, never a filter of its own


# -- delivery keys -------------------------------------------------------------------------------


async def test_first_delivery_is_true_once_per_key(store: Any) -> None:
    assert await store.first_delivery("alert-1/fired/2026-11-24T09:00:00Z") is True
    assert await store.first_delivery("alert-1/fired/2026-11-24T09:00:00Z") is False
    assert await store.first_delivery("alert-1/resolved/2026-11-24T09:10:00Z") is True
    assert await store.first_delivery("odd #?/\\' key " + "x" * 2000) is True


async def test_concurrent_first_deliveries_of_one_key_exactly_one_wins(store: Any) -> None:
    results = await asyncio.gather(*(store.first_delivery("retried-webhook") for _ in range(CONCURRENCY)))
    assert sorted(results) == [False] * (CONCURRENCY - 1) + [True]


# -- audit -----------------------------------------------------------------------------------------


async def test_audit_events_come_back_in_the_order_written(store: Any) -> None:
    written = [event("p-audit", f"event_{i}", reason=f"number {i}") for i in range(15)]  # same `at`: order by write
    for e in written:
        await store.record(e)
    back = await store.events("p-audit")
    assert len(back) == len(written) and all(same_event(a, b) for a, b in zip(back, written, strict=True))
    assert all(e.seq is not None for e in back) and [e.seq for e in back] == sorted({e.seq for e in back})


async def test_audit_events_are_filtered_by_plan_and_time(store: Any) -> None:
    await store.record(event("p-one", "plan_proposed", 0))
    await store.record(event("p-two", "plan_proposed", 1))
    await store.record(event("p-one", "approval_given", 2))
    await store.record(event(None, "approval_refused", 3, code="not_found"))  # about no plan we know
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
    await store.record(first)
    await store.record(first)  # the same event twice is two lines of the trail
    assert len(await store.events("p-append")) == 2


async def test_concurrent_audit_records_are_all_kept(store: Any) -> None:
    await asyncio.gather(*(store.record(event("p-busy", f"event_{i}")) for i in range(CONCURRENCY)))
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
    await store.record(e)
    (back,) = await store.events("p-detail")
    assert same_event(back, e)
