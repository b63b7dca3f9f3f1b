"""Recovery takes only plans whose execution lease has lapsed: a plan another live instance is running is left alone,
one whose instance died is marked INTERRUPTED (with its notice queued to the thread), and nothing is ever run again."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.domain.plan import PlanState
from bot.ports import Lease, MessageKind
from bot.services.deps import Deps
from bot.services.housekeeping import recover_interrupted
from tests.fakes import InMemoryStore

from .factories import NOW, proposed


class _Clock:
    def now(self) -> Any:
        return NOW


def _deps(store: InMemoryStore) -> Deps:
    # recovery reads and writes the store only; it never reaches Azure (the runner is absent: nothing is re-run)
    return Deps(store=store, audit=store, runner=None, broker=None, clock=_Clock(), tasks=None)  # type: ignore[arg-type]


async def _running(store: InMemoryStore, plan_id: str, state: PlanState = PlanState.EXECUTING) -> str:
    async with store.unit_of_work() as uow:
        added = uow.add(replace(proposed(), id=plan_id))
    async with store.unit_of_work() as uow:
        uow.save(replace(added, state=state), added.version)
    return plan_id


async def test_a_plan_whose_lease_is_held_by_a_live_instance_is_left_alone() -> None:
    store = InMemoryStore()
    plan_id = await _running(store, "p-live")
    assert await recover_interrupted(_deps(store)) == []
    plan = await store.get(plan_id)
    assert plan is not None and plan.state is PlanState.EXECUTING
    assert store.messages() == []


async def test_a_plan_whose_lease_lapsed_is_interrupted_and_its_thread_told() -> None:
    store = InMemoryStore()
    dead, live = await _running(store, "p-dead"), await _running(store, "p-live", PlanState.APPROVED)
    store.leases[dead] = Lease(dead, "gone-instance", 0.0)  # its instance stopped renewing it
    recovered = await recover_interrupted(_deps(store))
    assert [p.id for p in recovered] == [dead]
    assert (await store.get(dead)).state is PlanState.INTERRUPTED  # type: ignore[union-attr]
    assert (await store.get(live)).state is PlanState.APPROVED  # type: ignore[union-attr]
    assert dead not in store.leases  # the lease ended with the plan
    told = [m for m in store.messages() if m.plan_id == dead and m.kind is MessageKind.TEXT]
    assert told and "Interrupted" in (told[0].text or "")
    assert [e.event for e in await store.events(dead)][-1] == "plan_interrupted"


async def test_a_plan_left_running_with_no_lease_at_all_is_interrupted() -> None:
    """Written by a version without leases (or its lease row was lost): nobody can be looking after it."""
    store = InMemoryStore()
    plan_id = await _running(store, "p-old")
    del store.leases[plan_id]
    assert [p.id for p in await recover_interrupted(_deps(store))] == [plan_id]
