"""What every store promises about incident threads, cards on their way, and the instances alive (issue 28), run
against each backend: a thread opened for a plan is named with that plan, a thread still opening is told apart from
one whose opening was given up, the cards waiting to be sent are known, and the instances sharing the store count
each other."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from bot.domain.plan import Thread, ThreadKind
from bot.ports import MessageKind, OutboxMessage, pending_plan
from bot.services import messages

from ..unit.factories import proposed

CHANNEL = Thread("https://smba.example/teams/", "19:incidents@thread.tacv2", "t", ThreadKind.CHANNEL)


async def incident(store: Any, plan_id: str) -> tuple[Any, OutboxMessage, OutboxMessage]:
    """A plan proposed in a new incident thread, as handle_alert writes it: the thread's opening, then the card."""
    opening, pending = messages.open_thread(CHANNEL, {"type": "AdaptiveCard"}, plan_id)
    async with store.unit_of_work() as uow:
        uow.send(opening)
        plan = uow.add(replace(proposed(), id=plan_id, thread=pending))
        for m in messages.post_card(plan):
            uow.send(m)
    (first,) = [m for m in await store.due_messages(1e12, 10) if m.key == opening.key]  # the head of its thread's order
    assert first.kind is MessageKind.OPEN_THREAD
    return plan, first, opening


async def test_a_thread_opened_for_a_plan_is_named_by_the_plan_and_found_by_its_name(store: Any) -> None:
    plan, first, _ = await incident(store, "p-thread-1")
    ref = plan.thread.conversation_id
    assert pending_plan(ref) == plan.id
    waiting = await store.thread_opening(ref)
    assert waiting is not None and waiting.failed is None and waiting.message.seq == first.seq  # still coming
    assert await store.thread_named(ref) is None
    assert await store.cards_unsent() == {plan.id}
    created = replace(CHANNEL, conversation_id=CHANNEL.conversation_id + ";messageid=42", card_activity_id="42")
    async with store.unit_of_work() as uow:
        uow.name_thread(ref, created)
        uow.delivered(first.seq)
    assert await store.thread_named(ref) == created
    assert await store.thread_opening(ref) is None  # opened: no longer in the outbox
    (card,) = await store.due_messages(1e12, 10)
    assert card.kind is MessageKind.POST_CARD and card.plan_id == plan.id


async def test_a_thread_whose_opening_was_given_up_is_told_apart_from_one_still_opening(store: Any) -> None:
    plan, first, _ = await incident(store, "p-thread-2")
    async with store.unit_of_work() as uow:
        uow.dead_letter(first.seq, "HTTP 403")
    failed = await store.thread_opening(plan.thread.conversation_id)
    assert failed is not None and failed.failed is not None and "403" in failed.failed
    assert failed.message.thread == CHANNEL and failed.message.card == {"type": "AdaptiveCard"}  # enough to open it again
    (card,) = await store.due_messages(1e12, 10)  # the card is next in its thread's order
    async with store.unit_of_work() as uow:
        uow.dead_letter(card.seq, "undeliverable: its thread could not be opened")
    assert await store.cards_unsent() == set()  # given up: not on its way any more


async def test_the_message_after_a_thread_s_opening_is_found_for_the_worker_that_opened_it(store: Any) -> None:
    plan, first, _ = await incident(store, "p-thread-3")
    now = time.time()
    assert await store.claim_message(first.seq, "me", now, now + 30)
    assert [m.key for m in await store.due_messages(now, 10)] == []  # the card waits behind its thread's opening
    card = await store.next_for_thread(first, now, first.seq)  # but the worker opening the thread may take it now
    assert card is not None and card.kind is MessageKind.POST_CARD and card.plan_id == plan.id
    assert await store.claim_message(card.seq, "me", now, now + 30)
    assert await store.next_for_thread(first, now, first.seq) is None  # held: not handed out twice
    async with store.unit_of_work() as uow:
        uow.name_thread(plan.thread.conversation_id, replace(CHANNEL, conversation_id=CHANNEL.conversation_id + ";messageid=7"))
        uow.delivered(first.seq)
    assert await store.due_messages(now, 10) == []  # the card is the head now, still held by the opener
    assert await store.next_for_thread(first, now, card.seq) is None  # nothing after it


async def test_the_instances_alive_count_each_other_and_a_stopped_one_at_once(instances: Any) -> None:
    stores = [instances(owner=name) for name in ("a", "b", "c")]
    now = time.time()
    for s in stores:
        await s.instance_alive(s.leases.owner, now + 30, now)
    alive = await stores[0].instance_alive(stores[0].leases.owner, now + 30, now)
    assert sorted(alive) == sorted(s.leases.owner for s in stores)
    await stores[2].instance_gone(stores[2].leases.owner)  # a graceful stop
    await stores[1].instance_alive(stores[1].leases.owner, now - 1, now)  # its last beat has lapsed (a killed instance)
    assert await stores[0].instance_alive(stores[0].leases.owner, now + 30, now) == [stores[0].leases.owner]
