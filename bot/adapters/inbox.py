"""The inbox worker: processes the alerts `/api/incidents` stored, in the background, until each one is done.

The webhook only authenticates, validates and stores the alert (Azure Monitor waits about 10 seconds for an answer,
https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups); this worker acts on it. Processing commits the
alert's plans, messages and the inbox entry marked done in one unit of work, so a failure (Azure Monitor's alerts
API unreachable, the store busy) leaves nothing half-done and the alert is tried again with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .store.sqlite import SqliteStore

log = logging.getLogger(__name__)
LEASE = 120.0
POLL = 1.0
Process = Callable[[str, dict[str, Any], str], Awaitable[None]]  # (inbox key, payload, authentication)


class InboxWorker:
    def __init__(
        self, store: SqliteStore, process: Process, *, max_attempts: int = 20, max_backoff: float = 300.0, concurrency: int = 8
    ) -> None:
        self._store, self._process = store, process
        self._max_attempts, self._max_backoff, self._concurrency = max_attempts, max_backoff, concurrency
        self._owner = secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # see OutboxWorker.stop: Python 3.11's wait_for can swallow a cancellation

    def accepted(self) -> None:
        """An alert was stored: look at the inbox now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="inbox worker")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        tasks = [t for t in (self._task, *self._inflight.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._inflight.clear()

    async def idle(self) -> bool:
        return not self._inflight and await asyncio.to_thread(self._store.inbox_depth) == 0

    async def _run(self) -> None:
        while not self._stopping:
            wait = POLL
            try:
                free = self._concurrency - len(self._inflight)
                now = time.time()
                if free > 0:
                    for key, payload, auth, attempts in await self._store.due_alerts(now, free + len(self._inflight)):
                        if key in self._inflight or len(self._inflight) >= self._concurrency:
                            continue
                        if await self._store.claim_alert(key, self._owner, now, now + LEASE):
                            self._inflight[key] = asyncio.get_running_loop().create_task(
                                self._handle(key, payload, auth, attempts), name=f"alert {key}"
                            )
                due = await self._store.next_alert_due()
                if due is not None:
                    wait = min(POLL, max(0.0, due - time.time()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the inbox worker could not read the store; trying again")
            if wait > 0 or len(self._inflight) >= self._concurrency:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
            self._wake.clear()

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
                ceiling = min(self._max_backoff, 0.5 * 2 ** (attempts - 1))
                delay = ceiling / 2 + random.uniform(0, ceiling / 2)
                log.warning("alert %s could not be processed (%s); attempt %d in %.1fs", key, cause, attempts + 1, delay, exc_info=True)
                await self._store.retry_alert(key, attempts, time.time() + delay, cause)
        finally:
            self._inflight.pop(key, None)
            self._wake.set()
