"""The real clock, and the background task runner."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from opentelemetry import trace

log = logging.getLogger(__name__)
tracer = trace.get_tracer("sre-consent-bot")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class BackgroundTasks:
    """TaskRunner on the running loop; keeps references so tasks are not garbage-collected, logs failures."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Callable[[], Awaitable[object]], name: str) -> None:
        async def guarded() -> None:
            with tracer.start_as_current_span(name):
                try:
                    await work()
                except Exception:
                    log.exception("background task %r failed", name)

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for running work (e.g. an execution) to finish, up to `timeout`, then cancel the rest."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in late:
                task.cancel()
