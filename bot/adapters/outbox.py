"""The outbox worker: sends the messages transitions wrote to the store, to Teams, and never loses one.

- In order per conversation: one message at a time per outbox key (the conversation it was written for).
- Within Teams' limits (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): per bot per
  thread (7 sends a second, 8 per 2 seconds, 60 per 30 seconds, 1,800 per hour; a channel's reply chains count for
  the channel), and a pace for the whole app below Teams' 50 requests a second per app per tenant
  (TEAMS_SENDS_PER_SECOND), which the turns' member reads share. Both are the app's, whichever instance sends: with N instances alive,
  each paces itself at its share, 1/N (`share`, adapters/instances.py).
- A message whose thread is still being opened waits for it (tried again shortly), whichever instance takes it; the
  worker that opens a thread sends the messages waiting for it (its plan's card) right after (FOLLOW). A thread
  whose opening message was given up makes its messages fail, and a card given up has its plan repaired at once
  (posted again, or expired: services/repair_cards.py). Sending one message is sending.py.
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
from ..domain.plan import WAITING_STATES
from ..ports import MessageKind, Notifier, OutboxMessage
from ..services.deps import SYSTEM, Deps
from ..services.repair_cards import repair_card
from .callbacks import CallbackSender
from .delivery import ThreadRateLimit, classify
from .instances import LiveInstances
from .observability import Metrics
from .sending import Sender
from .store.sqlite import SqliteStore
from .worker import POLL, Worker

log = logging.getLogger(__name__)
LEASE = 30.0  # seconds a claimed message is left alone by other instances unless its sender renews the claim
FOLLOW = 4  # messages waiting for a thread sent right after it by the worker that opened it (the card, a notice)


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
        owner: str = "",
        claim_seconds: float = LEASE,
        instances: LiveInstances | None = None,
        callbacks: CallbackSender | None = None,
    ) -> None:
        super().__init__(concurrency)
        self._store, self._notifier, self._deps, self._metrics = store, notifier, deps, metrics
        self._max_attempts, self._max_backoff, self._base = max_attempts, max_backoff, base_backoff
        self._owner = owner or secrets.token_hex(8)  # the instance id: who holds a claim
        # a claim is renewed every third of it while its message is being sent (a slow Teams, a rate-limit wait), so
        # it can be short: when an instance dies, its claims lapse quickly and another instance sends the message
        self._claim = claim_seconds
        self.instances = instances  # the instances alive: this one paces its calls at its share of Teams' limits
        # Teams' limits at this instance's share, shared with the turns' member reads (40 calls a second by default)
        self._sender = Sender(store, notifier, instances.pace if instances is not None else ThreadRateLimit(per_second=40), callbacks)
        self._callbacks = callbacks  # None: a callback message cannot be sent (a dead letter saying so)
        self._keys: set[str] = set()
        self._current: dict[int, int] = {}  # a delivery's first message -> the message it is sending now (FOLLOW)

    # -- lifecycle ---------------------------------------------------------------------------------
    def committed(self, events: object, messages: int) -> None:
        """Store listener: a unit of work wrote messages, look at the outbox now."""
        if messages:
            self._wake.set()

    async def _released(self, keys: list[Any]) -> None:
        """Messages `stop` cut short are released for the next start (or another instance) at once."""
        for seq in [self._current.get(k, k) for k in keys]:
            with contextlib.suppress(Exception):
                await self._store.release_message(seq)

    async def count_instances(self) -> None:
        """Before the first send: the instances alive counted (each takes its share of Teams' limits), then on a beat."""
        if self.instances is not None:
            await self.instances.start()

    async def close(self) -> None:
        """After `stop`: the callback sender's connections; this instance's record among those alive (the others take
        its share of Teams' limits)."""
        if self._callbacks is not None:
            await self._callbacks.close()
        if self.instances is not None:
            await self.instances.stop()

    async def idle(self) -> bool:
        """Nothing being sent and nothing waiting to be sent (dead letters aside)."""
        return not self._inflight and await asyncio.to_thread(self._store.outbox_depth) == 0

    # -- the loop ----------------------------------------------------------------------------------
    async def _look(self) -> float:
        if self.free <= 0:
            return POLL  # a message finishing wakes the loop
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
        """Send `m`. The messages waiting for a thread (its plan's card) follow its opening at once, sent by this
        worker, rather than after the next look at the outbox. The first is claimed before the thread is opened: while
        the opening is the head of their order no other instance's look hands it out, so the card goes with the
        instance whose share of the channel opened its thread."""
        first, opening = m.seq, m if m.kind is MessageKind.OPEN_THREAD else None
        follower = await self._claim_next(opening, m.seq) if opening is not None else None
        try:
            sent = await self._deliver_one(m, follower)
            for _ in range(FOLLOW):
                if not sent or follower is None or opening is None:
                    break  # nothing due yet, or another instance took it
                self._current[first] = follower.seq
                sent = await self._deliver_one(follower)
                follower = await self._claim_next(opening, follower.seq) if sent else None
        finally:
            if follower is not None and self._current.get(first) != follower.seq:  # claimed, never tried
                with contextlib.suppress(Exception):
                    await self._store.release_message(follower.seq)
            self._keys.discard(m.key)
            self._current.pop(first, None)

    async def _claim_next(self, opening: OutboxMessage, after: int) -> OutboxMessage | None:
        """The message after `after` waiting for the thread `opening` opens, claimed, if due and nobody holds it."""
        now = time.time()
        nxt = await self._store.next_for_thread(opening, now, after)
        if nxt is None or not await self._store.claim_message(nxt.seq, self._owner, now, now + self._claim):
            return None
        return nxt

    async def _deliver_one(self, m: OutboxMessage, also: OutboxMessage | None = None) -> bool:
        """Send one claimed message; True if it was sent (a failure is recorded: tried again later, or given up). The
        claims on it (and on `also`, the message waiting for it) are renewed meanwhile."""
        held = [m] if also is None else [m, also]
        holding = [asyncio.get_running_loop().create_task(self._hold(x.seq), name=f"outbox claim {x.seq}") for x in held]
        try:
            await self._sender.send(m)
            self._metrics.outbox_sent.labels(m.kind.value).inc()
            return True
        except asyncio.CancelledError:
            raise
        except Exception as e:
            await self._failed(m, e)
            return False
        finally:
            for task in holding:
                task.cancel()

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
            return
        if m.kind is MessageKind.POST_CARD and m.plan_id:
            await self._card_lost(m.plan_id)

    async def _card_lost(self, plan_id: str) -> None:
        """A card given up: its plan, if waiting, is repaired now (posted again, or expired) rather than at the next
        sweep (services/repair_cards.py; the sweep still finds it if this fails)."""
        try:
            plan = await self._store.get(plan_id)
            if plan is not None and plan.state in WAITING_STATES and (done := await repair_card(self._deps, plan)) is not None:
                self._metrics.card_repairs.labels("reposted" if done.state in WAITING_STATES else "expired").inc()
        except Exception:
            log.exception("outbox: the plan %s of a card given up could not be repaired now; the sweep will", plan_id)
