"""The inbox worker: processes the alerts `/api/incidents` stored, in the background, until each one is done.

The webhook only authenticates, validates and stores the alert (Azure Monitor waits about 10 seconds for an answer,
https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups); this worker acts on it. Processing commits the
alert's plans, messages and the inbox entry marked done in one unit of work, so a failure (Azure Monitor's alerts
API unreachable, the store busy) leaves nothing half-done and the alert is tried again with back-off.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .store.sqlite import SqliteStore
from .worker import POLL, Worker

log = logging.getLogger(__name__)
LEASE = 120.0
Process = Callable[[str, dict[str, Any], str], Awaitable[None]]  # (inbox key, payload, authentication)


class InboxUnavailable(Exception):
    """The alert could not be put in the inbox (its queue unreachable): nothing was promised, the sender retries."""


class Inbox(Protocol):
    """The inbox port: where `/api/incidents` puts an authenticated, validated alert, and the worker that processes
    each one once (through its delivery key) in the background. Two adapters: `InboxWorker` (the store's own inbox
    table, polled) and `QueueInbox` (bot/adapters/queue_inbox.py: an Azure Storage Queue, for STORE=azure-tables)."""

    async def accept(self, key: str, payload: dict[str, Any], auth: str) -> str:
        """Keep the alert for processing: "new", "pending" (a repeat of a delivery not processed yet) or "done" (a
        repeat of a delivery already processed, or given up); raises InboxUnavailable when it could not be kept."""
        ...

    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        """("pending" | "done" | "failed", the outcome once done) of a kept alert; None if there is none."""
        ...

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def idle(self) -> bool:
        """Nothing being processed and nothing waiting (parked alerts aside)."""
        ...

    def parked(self) -> int:
        """Alerts given up after repeated failures (for /readyz and /metrics; called from a worker thread)."""
        ...

    def where_parked(self) -> str:
        """Where an operator finds the parked alerts, for /readyz."""
        ...


class StoredAlerts(Worker):
    """What both inboxes answer from the store, where every alert and its outcome is kept (a queue holds only keys)."""

    _store: Any

    async def alert_state(self, key: str) -> tuple[str, dict[str, Any] | None] | None:
        found: tuple[str, dict[str, Any] | None] | None = await self._store.alert_state(key)
        return found

    async def idle(self) -> bool:
        return not self._inflight and await asyncio.to_thread(self._store.inbox_depth) == 0


class InboxWorker(StoredAlerts):
    """The store's inbox: alerts in a table of the store, claimed with a lease, retried with back-off."""

    name = "inbox worker"

    def __init__(
        self, store: SqliteStore, process: Process, *, max_attempts: int = 20, max_backoff: float = 300.0, concurrency: int = 8
    ) -> None:
        super().__init__(concurrency)
        self._store, self._process = store, process
        self._max_attempts, self._max_backoff = max_attempts, max_backoff
        self._owner = secrets.token_hex(8)

    async def accept(self, key: str, payload: dict[str, Any], auth: str) -> str:
        stored: str = await self._store.accept_alert(key, payload, auth)
        if stored != "done":
            self.accepted()
        return stored

    def accepted(self) -> None:
        """An alert was stored: look at the inbox now."""
        self.wake()

    def parked(self) -> int:
        return int(self._store.failed_alerts())

    def where_parked(self) -> str:
        return "the store's inbox (state failed)"

    async def _look(self) -> float:
        wait = POLL
        now = time.time()
        if self.free > 0:
            for key, payload, auth, attempts in await self._store.due_alerts(now, self._concurrency):
                if key in self._inflight or self.free <= 0:
                    continue
                if await self._store.claim_alert(key, self._owner, now, now + LEASE):
                    self._spawn(key, self._handle(key, payload, auth, attempts), f"alert {key}")
        due = await self._store.next_alert_due()
        if due is not None:
            wait = min(POLL, max(0.0, due - time.time()))
        return wait

    async def _handle(self, key: str, payload: dict[str, Any], auth: str, attempts: int) -> None:
        try:
            await self._process(key, payload, auth)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            attempts += 1
            cause = type(e).__name__
            if attempts >= self._max_attempts:
                log.error("alert %s given up after %d attempts (%s)", key, attempts, cause)
                await self._store.retry_alert(key, attempts, None, cause)
            else:
                delay = backoff(attempts, self._max_backoff)
                log.warning("alert %s could not be processed (%s); attempt %d in %.1fs", key, cause, attempts + 1, delay, exc_info=True)
                await self._store.retry_alert(key, attempts, time.time() + delay, cause)


def backoff(attempts: int, ceiling: float) -> float:
    """Seconds before attempt `attempts + 1`: exponential from half a second, capped, with jitter."""
    top = min(ceiling, 0.5 * 2.0 ** (attempts - 1))
    return top / 2 + random.uniform(0, top / 2)
