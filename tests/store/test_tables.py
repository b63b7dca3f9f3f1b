"""What the Azure Table Storage store adds to the contract: its transactions, its limits, its readiness."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.adapters.store.tables import StoreLimitExceeded, TableStore
from bot.domain import transitions as t
from bot.domain.audit import AuditEvent
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import Plan, Thread, ThreadKind
from bot.services import messages

from ..azurite import Azurite
from ..unit.factories import ALICE, NOW, proposed


@pytest.fixture
async def tables(azurite: Azurite) -> AsyncIterator[TableStore]:
    store = TableStore.from_connection_string(azurite.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}")
    yield store
    await store.aclose()


def approved_event(plan_id: str, n: int = 0) -> AuditEvent:
    return AuditEvent(NOW, plan_id, ALICE.object_id, ALICE.name, f"approval_given_{n}", "awaiting_consent", "approved")


async def test_the_version_marker_alone_makes_a_save_a_compare_and_set(tables: TableStore) -> None:
    """Azurite does not enforce ETags inside a transaction (Azure/Azurite#1233): take the If-Match away
    and the marker of the new version, which only one writer can create, still lets exactly one win."""
    original = tables._plans.submit_transaction

    async def without_if_match(operations: list[Any]) -> Any:
        return await original([(o[0], o[1], {"mode": o[2]["mode"]}) if len(o) == 3 else o for o in operations])

    tables._plans.submit_transaction = without_if_match  # type: ignore[method-assign]
    added = await tables.add(proposed())
    results = await asyncio.gather(*(tables.save(replace(added, reason=str(i)), 1) for i in range(8)), return_exceptions=True)
    assert sum(isinstance(r, Plan) for r in results) == 1
    assert sum(isinstance(r, ConcurrentUpdate) for r in results) == 7


async def test_a_save_and_its_audit_events_are_written_together_or_not_at_all(tables: TableStore) -> None:
    added = await tables.add(proposed())
    presented = t.present(added, NOW)
    saved = await tables.save_with_events(presented, 1, [approved_event(added.id, 1), approved_event(added.id, 2)])
    assert await tables.get(added.id) == saved
    assert [e.event for e in await tables.events(added.id)] == ["approval_given_1", "approval_given_2"]
    with pytest.raises(ConcurrentUpdate):
        await tables.save_with_events(presented, 1, [approved_event(added.id, 3)])
    assert [e.event for e in await tables.events(added.id)] == ["approval_given_1", "approval_given_2"]
    assert await tables.get(added.id) == saved


async def test_a_new_plan_and_its_first_event_are_written_together(tables: TableStore) -> None:
    added = await tables.add_with_events(proposed(), [approved_event(proposed().id)])
    assert await tables.get(added.id) == added and len(await tables.events(added.id)) == 1


async def test_a_plan_larger_than_one_property_is_split_and_read_back_whole(tables: TableStore) -> None:
    big = replace(proposed(), rationale="Logs of the incident, verbatim: " + "é✅ line\n" * 40_000)  # ~ 480 KB
    added = await tables.add(big)
    assert await tables.get(big.id) == added
    smaller = await tables.save(replace(added, rationale="short again"), 1)
    assert await tables.get(big.id) == smaller  # no chunk of the larger version is left behind


async def test_a_plan_larger_than_an_entity_is_refused_and_nothing_is_written(tables: TableStore) -> None:
    added = await tables.add(proposed())
    with pytest.raises(StoreLimitExceeded, match="at most 896,000 bytes"):
        await tables.add(replace(proposed(), id="p-huge", rationale="x" * 1_000_000))
    with pytest.raises(StoreLimitExceeded):
        await tables.save(replace(added, rationale="x" * 1_000_000), 1)
    assert await tables.get("p-huge") is None and await tables.get(added.id) == added


async def test_readiness_is_a_ping_that_fails_once_closed(tables: TableStore) -> None:
    await tables.get("p-warm-up")  # the store learns its event loop
    assert await asyncio.to_thread(tables.ping) is True
    assert (await asyncio.to_thread(tables.count_by_state)) == {}
    await tables.add(proposed())
    assert (await asyncio.to_thread(tables.count_by_state)) == {"proposed": 1}
    tables.close()
    assert await asyncio.to_thread(tables.ping) is False


async def test_a_plan_its_incident_thread_its_card_and_its_audit_are_one_transaction(tables: TableStore) -> None:
    """What handle_alert writes for one response plan, and what the outbox writes when it opens the thread, each go
    to Azure as one entity-group transaction (one partition): no instance can see the card without its thread's
    opening, and no crash can leave one without the other."""
    batches: list[set[str]] = []
    original = tables._plans.submit_transaction

    async def counted(operations: list[Any]) -> Any:
        batches.append({o[1]["PartitionKey"] for o in operations})
        return await original(operations)

    tables._plans.submit_transaction = counted  # type: ignore[method-assign]
    channel = Thread("https://smba.example/", "19:ops@thread.tacv2", "t", ThreadKind.CHANNEL)
    opening, pending = messages.open_thread(channel, {"type": "AdaptiveCard"}, "p-one-tx")
    async with tables.unit_of_work() as uow:
        uow.send(opening)
        plan = uow.add(replace(proposed(), id="p-one-tx", thread=pending))
        uow.record(AuditEvent(NOW, plan.id, ALICE.object_id, ALICE.name, "plan_proposed"))
        for m in messages.post_card(plan):
            uow.send(m)
    assert batches == [{"p-one-tx"}]
    (head,) = await tables.due_messages(1e12, 10)
    async with tables.unit_of_work() as uow:
        uow.name_thread(pending.conversation_id, replace(channel, conversation_id="19:ops@thread.tacv2;messageid=1"))
        uow.delivered(head.seq)
    assert batches[1:] == [{"p-one-tx"}]  # the thread's name and its opening's removal
    (head,) = await tables.due_messages(1e12, 10)
    async with tables.unit_of_work() as uow:  # an audit event naming no plan joins the one partition written
        uow.dead_letter(head.seq, "HTTP 404")
        uow.record(AuditEvent(NOW, None, "system", "the bot", "outbox_dead_letter"))
    assert batches[2:] == [{"p-one-tx"}]


async def test_a_save_of_the_version_just_read_reads_nothing_more_and_a_stale_one_still_loses(tables: TableStore) -> None:
    """A click reads its plan once: the save of that version uses the row's ETag as read (one round trip fewer per
    transition); a save expecting a version other than the stored one is still refused by the compare-and-set."""
    reads: list[str] = []
    original = tables._plans.get_entity

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args[1] if len(args) > 1 else kwargs.get("row_key", ""))
        return await original(*args, **kwargs)

    tables._plans.get_entity = counted  # type: ignore[method-assign]
    added = await tables.add(proposed())
    read = await tables.get(added.id)
    assert read == added and len(reads) == 1
    async with tables.unit_of_work() as uow:
        uow.save(t.present(added, NOW), 1)
    assert len(reads) == 1  # the row as read: no second read for the compare-and-set
    with pytest.raises(ConcurrentUpdate) as raised:
        async with tables.unit_of_work() as uow:
            uow.save(replace(added, title="Stale"), 1)  # version 1 again: the stored row is at 2
    assert (raised.value.plan_id, raised.value.expected_version) == (added.id, 1)
    stored = await tables.get(added.id)
    assert stored is not None and stored.version == 2 and stored.title == added.title
