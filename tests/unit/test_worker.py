"""The worker loop the outbox and both inboxes share: bounded concurrency, survives a failed look, stops cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.adapters.worker import Worker


class Items(Worker):
    """Takes items from a list; each runs until released by the test (or cancelled by stop)."""

    name = "test worker"

    def __init__(self, items: list[int], concurrency: int = 2, fail_first_look: bool = False) -> None:
        super().__init__(concurrency)
        self.items, self.fail = items, fail_first_look
        self.running: set[int] = set()
        self.most = 0
        self.done: list[int] = []
        self.released: list[Any] = []
        self.go = asyncio.Event()

    async def _look(self) -> float:
        if self.fail:
            self.fail = False
            raise ConnectionError("the store could not be reached")
        while self.items and self.free > 0:
            n = self.items.pop(0)
            self._spawn(n, self._work(n), f"item {n}")
        return 1.0

    async def _work(self, n: int) -> None:
        self.running.add(n)
        self.most = max(self.most, len(self.running))
        try:
            await self.go.wait()
            self.done.append(n)
        finally:
            self.running.discard(n)

    async def _released(self, keys: list[Any]) -> None:
        self.released = sorted(keys)


async def until(check: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_at_most_concurrency_items_run_and_the_rest_follow_as_slots_free() -> None:
    worker = Items([1, 2, 3, 4, 5], concurrency=2)
    worker.start()
    await until(lambda: len(worker.running) == 2)
    worker.go.set()
    await until(lambda: len(worker.done) == 5)
    assert worker.most == 2 and sorted(worker.done) == [1, 2, 3, 4, 5]
    await worker.stop()
    assert worker.released == []  # nothing was in flight


async def test_a_failed_look_is_logged_and_the_loop_goes_on(caplog: Any) -> None:
    worker = Items([7], fail_first_look=True)
    worker.go.set()
    worker.start()
    worker.wake()
    await until(lambda: worker.done == [7])
    await worker.stop()
    assert "the test worker could not look for work; trying again" in caplog.text


async def test_stop_cancels_what_is_in_flight_and_hands_it_back() -> None:
    worker = Items([1, 2, 3], concurrency=2)
    worker.start()
    await until(lambda: len(worker.running) == 2)
    await worker.stop()
    assert worker.released == [1, 2] and worker.running == set() and worker.done == []
    assert worker.items == [3]  # never started
