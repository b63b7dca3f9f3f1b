"""One message of the outbox sent to Teams, and recorded sent (bot/adapters/outbox.py claims it, paces it, retries it).

Plan messages go to the plan's thread as stored when they are sent; a thread still being opened is waited for. Cards
are rendered from the plan as stored; a sent card covers the card updates written before it, and its activity id is
recorded on the plan so later updates target it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..domain.errors import ConcurrentUpdate
from ..domain.plan import Plan, Thread
from ..ports import CARD_LINK, PENDING_THREAD, PERSONAL_CHAT, MessageKind, Notifier, OutboxMessage
from ..services.links import card_link
from .callbacks import CallbackSender
from .delivery import CardNotPosted, ThreadNotOpen, ThreadRateLimit, Undeliverable, http_refusal
from .store.sqlite import SqliteStore

log = logging.getLogger("bot.adapters.outbox")


class Sender:
    """Sends one message at a time to Teams through the notifier, within this instance's share of Teams' limits."""

    def __init__(self, store: SqliteStore, notifier: Notifier, limit: ThreadRateLimit, callbacks: CallbackSender | None = None) -> None:
        self._store, self._notifier, self._limit, self._callbacks = store, notifier, limit, callbacks

    async def send(self, m: OutboxMessage) -> None:
        """Send `m` (claimed by this instance) and record it sent; raises what Teams or the store raised."""
        if m.kind is MessageKind.CALLBACK:
            if self._callbacks is None:
                raise Undeliverable("this instance sends no callbacks")
            await self._callbacks.send(m)
            await self._done(m)
            return
        if m.kind is MessageKind.OPEN_THREAD:
            assert m.thread is not None and m.card is not None and m.thread_ref is not None
            channel, card = m.thread, m.card
            thread = await self._limit.paced(channel.conversation_id, lambda: self._notifier.open_thread(channel, card), create=True)
            async with self._store.unit_of_work() as uow:
                uow.name_thread(m.thread_ref, thread)
                uow.delivered(m.seq)
            return
        if m.kind is MessageKind.NOTE:
            await self._note(m)
            return
        if m.kind is MessageKind.TEXT and m.plan_id is None:
            assert m.thread is not None and m.text is not None
            thread = await self._resolve(m.thread)
            await self._say(thread, m.text, m.reply_to)
            await self._done(m)
            return
        plan = await self._store.get(m.plan_id or "")
        if plan is None or plan.thread is None:
            raise Undeliverable(f"plan {m.plan_id} has no thread")
        thread = await self._resolve(plan.thread)
        plan = replace(plan, thread=thread)
        if m.kind is MessageKind.TEXT:
            assert m.text is not None
            await self._say(thread, m.text, m.reply_to)
            await self._done(m)
        elif m.kind is MessageKind.UPDATE_CARD:
            if thread.card_activity_id is None:  # nothing to update: a card posted later shows the plan as it is then
                log.info("outbox: card update of plan %s dropped: its card is not posted", plan.id, extra={"plan_id": plan.id})
                await self._done(m, plan)
                return
            shown = plan
            await self._limit.paced(thread.conversation_id, lambda: self._notifier.update_card(shown))
            await self._done(m, plan)
        elif thread.card_activity_id is not None:
            await self._done(m, plan)  # posted before a restart: the post was recorded, this copy is not needed
        else:
            shown, reply_to = plan, m.reply_to
            posted = await self._limit.paced(thread.conversation_id, lambda: self._notifier.post_plan(shown, reply_to))
            await self._card_posted(m, plan, posted)

    async def _note(self, m: OutboxMessage) -> None:
        """A message about a plan to somewhere else (the requester's chat, an approver's 1:1 chat), with a link to the
        plan's card; a 1:1 chat the bot has no reference to is created first (the app must be installed for the user)."""
        assert m.thread is not None and m.text is not None
        plan = await self._store.get(m.plan_id or "")
        if plan is None:
            raise Undeliverable(f"plan {m.plan_id} is gone")
        link = card_link(await self._resolve(plan.thread)) if plan.thread is not None else None
        if link is None and CARD_LINK in m.text:
            raise CardNotPosted(f"the card of plan {plan.id} is not posted yet")  # tried again, with back-off
        thread = m.thread
        if thread.conversation_id.startswith(PERSONAL_CHAT):
            try:
                chat = thread  # creating the 1:1 chat is a call too
                thread = await self._limit.paced(chat.conversation_id, lambda: self._notifier.open_personal(chat), create=True)
            except Exception as e:
                refused = http_refusal(e)
                if refused is None or refused[0] not in (403, 404):
                    raise
                # Teams refuses a 1:1 chat with someone the app is not installed for: that approver is not reachable
                # privately (they still see the card in the approvals channel); not a failure worth a dead letter
                log.info(
                    "outbox: no 1:1 chat for a note about plan %s (HTTP %s: the app is not installed for that "
                    "approver); the note is dropped",
                    plan.id,
                    refused[0],
                    extra={"plan_id": plan.id},
                )
                await self._done(m)
                return
        await self._say(thread, m.text.replace(CARD_LINK, link or ""), m.reply_to)
        await self._done(m)

    async def _say(self, thread: Thread, text: str, reply_to: str | None) -> None:
        await self._limit.paced(thread.conversation_id, lambda: self._notifier.say(thread, text, reply_to))

    async def _resolve(self, thread: Thread) -> Thread:
        """A pending thread (opened by an earlier message of the same key) as Teams created it. Not created yet: the
        message waits (tried again later, whichever instance takes it), unless the message opening the thread was
        given up: then the thread will never exist and the message cannot be sent either."""
        ref = thread.conversation_id
        if not ref.startswith(PENDING_THREAD):
            return thread
        created = await self._store.thread_named(ref)
        if created is None:
            opening = await self._store.thread_opening(ref)
            if opening is not None and opening.failed is not None:
                raise Undeliverable(f"its thread could not be opened ({opening.failed})")
            raise ThreadNotOpen("its thread is not opened yet")
        return replace(created, card_activity_id=thread.card_activity_id)

    async def _done(self, m: OutboxMessage, shown: Plan | None = None) -> None:
        async with self._store.unit_of_work() as uow:
            uow.delivered(m.seq)
            if shown is not None:
                uow.coalesce(shown.id, shown.version)

    async def _card_posted(self, m: OutboxMessage, shown: Plan, posted: Thread) -> None:
        """Record the card's activity id (and its thread) on the plan, whatever else changed on it meanwhile."""
        for _ in range(50):
            current = await self._store.get(shown.id)
            if current is None:
                await self._done(m, shown)
                return
            try:
                async with self._store.unit_of_work() as uow:
                    uow.save(replace(current, thread=posted), expected_version=current.version)
                    uow.delivered(m.seq)
                    uow.coalesce(shown.id, shown.version)
                return
            except ConcurrentUpdate:
                continue  # the execution moved the plan: record the card on what it left
        raise RuntimeError(f"the card of plan {shown.id} was posted but could not be recorded")
