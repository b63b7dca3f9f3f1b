"""A transition is one unit of work: the plan's compare-and-set, its audit events and its messages to Teams are
written together or not at all, in the SQLite store and in the in-memory fake alike."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store.sqlite import SqliteStore
from bot.domain import transitions
from bot.domain.audit import AuditEventName
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import PlanState
from bot.ports import MessageKind
from bot.services.decide_consent import decide_consent
from bot.services.deps import Deps
from tests.fakes import InMemoryStore

from .factories import ALICE, NOW, proposed


class _Clock:
    def now(self) -> Any:
        return NOW


def _deps(store: Any) -> Deps:
    # only the store and the clock are used by these transitions; the other ports are never reached
    return Deps(store=store, audit=store, runner=None, broker=None, clock=_Clock(), tasks=None)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield InMemoryStore()
        return
    s = SqliteStore(tmp_path / "uow.sqlite3")
    yield s
    s.close()


def _fail_audit(store: Any, event: str) -> None:
    """Make the audit insert of `event` fail, between the other writes of its unit of work."""
    if isinstance(store, InMemoryStore):
        store.fail_on = event
        return
    with sqlite3.connect(store.path) as db:
        db.execute(f"CREATE TRIGGER fail BEFORE INSERT ON audit WHEN NEW.event = '{event}' BEGIN SELECT RAISE(ABORT, 'injected'); END")


async def _outbox(store: Any) -> list[MessageKind]:
    """The kinds of the messages waiting in the outbox, in the order they were written."""
    if isinstance(store, InMemoryStore):
        return [m.kind for m in store.messages()]
    with sqlite3.connect(store.path) as db:
        return [MessageKind(k) for (k,) in db.execute("SELECT kind FROM outbox ORDER BY seq")]


async def _stored(store: Any) -> Any:
    plan = transitions.present(proposed(), NOW)
    async with store.unit_of_work() as uow:
        return uow.add(plan)


async def test_a_denial_commits_the_plan_its_audit_and_its_messages_together(store: Any) -> None:
    plan = await _stored(store)
    decision = await decide_consent(_deps(store), plan.id, ALICE, False, plan.content_hash, "not now")
    assert decision.plan is not None and decision.plan.state is PlanState.DENIED
    assert (await store.get(plan.id)).state is PlanState.DENIED
    assert [e.event for e in await store.events(plan.id)] == ["plan_denied"]
    assert await _outbox(store) == [MessageKind.UPDATE_CARD, MessageKind.TEXT]  # the card, then the reply


async def test_a_lost_compare_and_set_writes_nothing(store: Any) -> None:
    plan = await _stored(store)
    async with store.unit_of_work() as uow:
        uow.save(replace(plan, title="someone else first"), expected_version=plan.version)
    with pytest.raises(ConcurrentUpdate):
        async with store.unit_of_work() as uow:
            uow.record(_deps(store).event(plan, ALICE, AuditEventName.APPROVAL_GIVEN))
            uow.save(replace(plan, state=PlanState.DENIED), expected_version=plan.version)
    assert (await store.get(plan.id)).title == "someone else first"
    assert await store.events(plan.id) == []


async def test_a_failing_audit_insert_leaves_the_plan_and_the_outbox_untouched(store: Any) -> None:
    plan = await _stored(store)
    _fail_audit(store, "plan_denied")
    with pytest.raises(Exception, match="injected"):
        await decide_consent(_deps(store), plan.id, ALICE, False, plan.content_hash)
    assert await store.get(plan.id) == plan  # not denied without its audit event
    assert await store.events(plan.id) == [] and await _outbox(store) == []
