"""The outbox worker: sends the messages transitions wrote to the store, to Teams, and never loses one.

- In order per conversation: one message at a time per outbox key (the conversation it was written for).
- Within Teams' limits (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): per bot per
  thread (7 sends a second, 8 per 2 seconds, 60 per 30 seconds, 1,800 per hour; a channel's reply chains count for
  the channel), and a pace for the whole instance below Teams' 50 requests a second per app per tenant
  (`sends_per_second`, TEAMS_SENDS_PER_SECOND; with N instances each should get 1/N of it).
- 429, 412, 408, 5xx and network errors are tried again with exponential back-off and jitter, never sooner than
  `Retry-After`; a message that keeps failing (or that Teams refuses outright, 400/403/404) becomes a dead letter:
  kept in the store, counted by /readyz and /metrics, and audited.
- Cards are rendered from the plan as stored when they are sent, and a sent card covers the card updates written
  before it (coalesced): only the newest state of a card goes out.
- Posting a card yields its activity id, recorded on the plan through a unit of work so later updates target it.
- Callbacks (CALLBACK: a signed event to an agent, bot/adapters/callbacks.py) go through the same queue, in order per
  plan, with their own attempts (CALLBACK_MAX_ATTEMPTS) and back-off (CALLBACK_RETRY_SECONDS).
- Each message is claimed (a lease in the store) while it is sent, so instances sharing a store do not both send
  it. Delivery is at least once: a process killed after Teams accepted a message and before the store recorded it
  sends that message again after restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from dataclasses import replace
from typing import Any

from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate
from ..domain.plan import Plan, Thread
from ..ports import CARD_LINK, PENDING_THREAD, PERSONAL_CHAT, MessageKind, Notifier, OutboxMessage
from ..services.deps import SYSTEM, Deps
from ..services.links import card_link
from .callbacks import CallbackSender
from .delivery import CardNotPosted, ThreadRateLimit, Undeliverable, classify, http_refusal
from .observability import Metrics
from .store.sqlite import SqliteStore
from .worker import POLL, Worker

log = logging.getLogger(__name__)
LEASE = 30.0  # seconds a claimed message is left alone by other instances unless its sender renews the claim


class OutboxWorker(Worker):
    """Sends the outbox, in the background, for as long as the bot runs."""

    name = "outbox worker"

    def __init__(
        self,
        store: SqliteStore,
        notifier: Notifier,
        deps: Deps,
        metrics: Metrics,
        *,
        max_attempts: int = 20,
        max_backoff: float = 300.0,
        base_backoff: float = 0.5,
        concurrency: int = 16,
        sends_per_second: int = 40,
        owner: str = "",
        claim_seconds: float = LEASE,
        callbacks: CallbackSender | None = None,
    ) -> None:
        super().__init__(concurrency)
        self._store, self._notifier, self._deps, self._metrics = store, notifier, deps, metrics
        self._max_attempts, self._max_backoff, self._base = max_attempts, max_backoff, base_backoff
        self._owner = owner or secrets.token_hex(8)  # the instance id: who holds a claim
        # a claim is renewed every third of it while its message is being sent (a slow Teams, a rate-limit wait), so
        # it can be short: when an instance dies, its claims lapse quickly and another instance sends the message
        self._claim = claim_seconds
        self._limit = ThreadRateLimit(per_second=sends_per_second)
        self._keys: set[str] = set()
        self._callbacks = callbacks  # None: a callback message cannot be sent (a dead letter saying so)

    # -- lifecycle ---------------------------------------------------------------------------------
    def committed(self, events: object, messages: int) -> None:
        """Store listener: a unit of work wrote messages, look at the outbox now."""
        if messages:
            self._wake.set()

    async def _released(self, keys: list[Any]) -> None:
        """Messages `stop` cut short are released for the next start (or another instance) at once."""
        for seq in keys:
            with contextlib.suppress(Exception):
                await self._store.release_message(seq)

    async def close(self) -> None:
        """After `stop`: the callback sender's connections."""
        if self._callbacks is not None:
            await self._callbacks.close()

    async def idle(self) -> bool:
        """Nothing being sent and nothing waiting to be sent (dead letters aside)."""
        return not self._inflight and await asyncio.to_thread(self._store.outbox_depth) == 0

    # -- the loop ----------------------------------------------------------------------------------
    async def _look(self) -> float:
        await self._dispatch()
        due = await self._store.next_message_due()
        return POLL if due is None else min(POLL, max(0.0, due - time.time()))

    async def _dispatch(self) -> None:
        free = self._concurrency - len(self._inflight)
        if free <= 0:
            return
        now = time.time()
        for message in await self._store.due_messages(now, free + len(self._keys)):
            if message.seq in self._inflight or message.key in self._keys or len(self._inflight) >= self._concurrency:
                continue
            if not await self._store.claim_message(message.seq, self._owner, now, now + self._claim):
                continue  # another instance is sending it
            self._keys.add(message.key)
            self._spawn(message.seq, self._deliver(message), f"outbox {message.seq}")

    async def _hold(self, seq: int) -> None:
        """Renew the claim on message `seq` while it is being sent."""
        while True:
            await asyncio.sleep(self._claim / 3)
            try:
                if not await self._store.renew_claim(seq, self._owner, time.time() + self._claim):
                    return  # sent, or no longer ours
            except Exception:  # the store is unreachable: the claim lapses if this lasts
                log.warning("outbox: could not renew the claim on message %d; retrying", seq)

    async def _deliver(self, m: OutboxMessage) -> None:
        holding = asyncio.get_running_loop().create_task(self._hold(m.seq), name=f"outbox claim {m.seq}")
        try:
            await self._send(m)
            self._metrics.outbox_sent.labels(m.kind.value).inc()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            await self._failed(m, e)
        finally:
            holding.cancel()
            self._keys.discard(m.key)

    async def _failed(self, m: OutboxMessage, error: Exception) -> None:
        retryable, retry_after, cause = classify(error)
        attempts = m.attempts + 1
        self._metrics.outbox_retries.labels(cause.split(":")[0]).inc()
        max_attempts, base = self._max_attempts, self._base
        if m.kind is MessageKind.CALLBACK and self._callbacks is not None:
            max_attempts, base = self._callbacks.max_attempts, self._callbacks.first_retry
        try:
            if retryable and attempts < max_attempts:
                ceiling = min(self._max_backoff, base * 2 ** (attempts - 1))
                delay = max(retry_after, ceiling / 2 + random.uniform(0, ceiling / 2))  # jitter; never before Retry-After
                log.info(
                    "outbox: %s of plan %s failed (%s); attempt %d in %.1fs",
                    m.kind.value,
                    m.plan_id,
                    cause,
                    attempts + 1,
                    delay,
                    extra={"plan_id": m.plan_id},
                )
                await self._store.retry_message(m.seq, attempts, time.time() + delay, cause)
                return
            log.error(
                "outbox: %s of plan %s given up after %d attempt(s) (%s): dead letter %d",
                m.kind.value,
                m.plan_id,
                attempts,
                cause,
                m.seq,
                extra={"plan_id": m.plan_id},
            )
            async with self._store.unit_of_work() as uow:
                uow.dead_letter(m.seq, cause)
                dead = self._deps.event(
                    None,
                    SYSTEM,
                    AuditEventName.OUTBOX_DEAD_LETTER,
                    message=str(m.seq),
                    kind=m.kind.value,
                    error=cause,
                    attempts=str(attempts),
                )
                uow.record(replace(dead, plan_id=m.plan_id))  # on the plan's trail when it is a plan's message
        except Exception:
            log.exception("outbox: could not record the failure of message %d; it is tried again after its lease", m.seq)

    # -- one message -------------------------------------------------------------------------------
    async def _send(self, m: OutboxMessage) -> None:
        if m.kind is MessageKind.CALLBACK:
            if self._callbacks is None:
                raise Undeliverable("this instance sends no callbacks")
            await self._callbacks.send(m)
            await self._done(m)
            return
        if m.kind is MessageKind.OPEN_THREAD:
            assert m.thread is not None and m.card is not None and m.thread_ref is not None
            await self._limit.acquire(m.thread.conversation_id, create=True)
            thread = await self._notifier.open_thread(m.thread, m.card)
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
            await self._limit.acquire(thread.conversation_id)
            await self._notifier.say(thread, m.text, m.reply_to)
            await self._done(m)
            return
        plan = await self._store.get(m.plan_id or "")
        if plan is None or plan.thread is None:
            raise Undeliverable(f"plan {m.plan_id} has no thread")
        thread = await self._resolve(plan.thread)
        plan = replace(plan, thread=thread)
        if m.kind is MessageKind.TEXT:
            assert m.text is not None
            await self._limit.acquire(thread.conversation_id)
            await self._notifier.say(thread, m.text, m.reply_to)
            await self._done(m)
        elif m.kind is MessageKind.UPDATE_CARD:
            if thread.card_activity_id is None:
                raise Undeliverable(f"the card of plan {plan.id} was never posted")
            await self._limit.acquire(thread.conversation_id)
            await self._notifier.update_card(plan)
            await self._done(m, plan)
        elif thread.card_activity_id is not None:
            await self._done(m, plan)  # posted before a restart: the post was recorded, this copy is not needed
        else:
            await self._limit.acquire(thread.conversation_id)
            posted = await self._notifier.post_plan(plan, m.reply_to)
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
                await self._limit.acquire(thread.conversation_id, create=True)  # creating the 1:1 chat is a call too
                thread = await self._notifier.open_personal(thread)
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
        await self._limit.acquire(thread.conversation_id)
        await self._notifier.say(thread, m.text.replace(CARD_LINK, link or ""), m.reply_to)
        await self._done(m)

    async def _resolve(self, thread: Thread) -> Thread:
        """A pending thread (opened by an earlier message of the same key) as Teams created it."""
        if not thread.conversation_id.startswith(PENDING_THREAD):
            return thread
        created = await self._store.thread_named(thread.conversation_id)
        if created is None:
            raise Undeliverable("its thread was never created")
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
