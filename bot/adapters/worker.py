"""The background worker loop the outbox, the store inbox and the queue inbox share: start, stop, and a loop that
looks for work, starts at most `concurrency` items at once and sleeps until woken or until it is time to look again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Hashable
from typing import Any

log = logging.getLogger(__name__)
POLL = 1.0  # seconds between looks when nothing wakes the worker (another instance may have written)


class Worker:
    """Subclasses implement `_look` (start what is due with `_spawn`; return seconds until the next look) and may
    implement `_released` (what to do with items cut short by `stop`)."""

    name = "worker"

    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._inflight: dict[Hashable, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        # the flag as well as the cancellation: on Python 3.11 asyncio.wait_for can swallow a cancellation that
        # arrives as the awaited event is set (new work woke the worker), and the loop would then run for ever
        self._stopping = False

    @property
    def free(self) -> int:
        """How many more items may start now."""
        return self._concurrency - len(self._inflight)

    def wake(self) -> None:
        """There is work: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop looking and cancel what is in flight; `_released` learns which items were cut short."""
        self._stopping = True
        self._wake.set()
        cut_short = list(self._inflight)
        tasks = [t for t in (self._task, *self._inflight.values()) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._inflight.clear()
        with contextlib.suppress(Exception):
            await self._released(cut_short)

    async def _look(self) -> float:
        raise NotImplementedError

    async def _released(self, keys: list[Any]) -> None:
        """Items `stop` cancelled (their claims can be given back at once rather than left to lapse)."""

    def _spawn(self, key: Hashable, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` as item `key`; when it ends, however it ends, the slot is freed and the loop looks again."""

        async def run() -> None:
            try:
                await work
            finally:
                self._inflight.pop(key, None)
                self._wake.set()

        self._inflight[key] = asyncio.get_running_loop().create_task(run(), name=name)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                wait = await self._look()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the %s could not look for work; trying again", self.name)
                wait = POLL
            if wait > 0 or self.free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
            self._wake.clear()
