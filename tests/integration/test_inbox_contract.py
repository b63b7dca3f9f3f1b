"""The inbox port's contract, run against both adapters: the store's inbox table (STORE=sqlite) and the Azure
Storage Queue (STORE=azure-tables, on Azurite). Processing is the test's own function (the use case is tested
elsewhere): it commits the delivery key with its outcome in a unit of work, as handle_alert does, or fails."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.inbox import InboxWorker
from bot.adapters.queue_inbox import QueueInbox, clients
from bot.adapters.store.sqlite import SqliteStore
from bot.adapters.store.tables import TableStore

from .harness import eventually

ATTEMPTS = 3  # tries before an alert is parked: the store inbox's max_attempts, the queue's max dequeue count


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Processing:
    """Counts calls per key; fails the first `failures[key]` calls of a key (every call for keys in `always`)."""

    store: Any
    failures: dict[str, int] = field(default_factory=dict)
    always: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)

    async def __call__(self, key: str, payload: dict[str, Any], auth: str) -> None:
        self.calls[key] += 1
        if key in self.always or self.calls[key] <= self.failures.get(key, 0):
            raise ConnectionError("Azure Monitor could not be reached")
        async with self.store.unit_of_work() as uow:
            uow.alert_processed(key, {"matched": [], "payload": payload["n"]})


@dataclass
class Kit:
    kind: str
    store: Any
    make: Callable[[Processing], Any]  # a worker (an instance) on the shared store (and queue)
    workers: list[Any] = field(default_factory=list)

    def inbox(self, processing: Processing, start: bool = True) -> Any:
        worker = self.make(processing)
        self.workers.append(worker)
        if start:
            worker.start()
        return worker

    async def processed(self, keys: list[str]) -> None:
        async def all_done() -> bool:
            states = [await self.store.alert_state(k) for k in keys]
            return all(s is not None and s[0] != "pending" for s in states)

        await eventually(all_done, f"{len(keys)} alert(s) processed or given up", timeout=60)


@pytest.fixture(params=["store", "queue"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    if request.param == "store":
        store: Any = SqliteStore(tmp_path / "inbox.sqlite3")

        def make(processing: Processing) -> Any:
            return InboxWorker(store, processing, max_attempts=ATTEMPTS, max_backoff=0.05)
    else:
        emulator = request.getfixturevalue("azurite")
        store = TableStore.from_connection_string(emulator.connection_string, prefix=f"t{uuid.uuid4().hex[:12]}")
        name = f"alerts-{uuid.uuid4().hex[:12]}"

        def make(processing: Processing) -> Any:
            queue, poison = clients(name, connection_string=emulator.connection_string)
            return QueueInbox(store, queue, poison, processing, Clock(), visibility_timeout=2, max_dequeue_count=ATTEMPTS, max_backoff=0.05)

    box = Kit(request.param, store, make)
    yield box
    for worker in box.workers:
        await worker.stop()
    if isinstance(store, TableStore):
        await store.aclose()
    else:
        store.close()


def alert(n: int) -> tuple[str, dict[str, Any]]:
    return f"alert-{n}-{uuid.uuid4().hex[:8]}", {"n": n}


async def test_an_accepted_alert_is_processed_once_and_a_later_delivery_is_a_repeat(kit: Kit) -> None:
    processing = Processing(kit.store)
    inbox = kit.inbox(processing)
    key, payload = alert(1)
    assert await inbox.accept(key, payload, "shared_secret") == "new"
    await kit.processed([key])
    assert await kit.store.alert_state(key) == ("done", {"matched": [], "payload": 1})
    assert await inbox.accept(key, payload, "shared_secret") == "done"
    assert processing.calls == {key: 1}


async def test_a_repeat_delivery_waiting_in_the_inbox_is_processed_once(kit: Kit) -> None:
    processing = Processing(kit.store)
    inbox = kit.inbox(processing, start=False)
    key, payload = alert(2)
    assert [await inbox.accept(key, payload, "shared_secret") for _ in range(3)] == ["new", "pending", "pending"]
    inbox.start()
    await kit.processed([key])
    if kit.kind == "queue":  # the copies are received too, recognised as repeats and deleted unprocessed
        await eventually(lambda: _true(inbox.repeats == 2), "both copies recognised as repeats", timeout=30)
    await eventually(inbox.idle, "the inbox is idle")
    assert processing.calls == {key: 1}


async def test_a_failing_alert_is_tried_again_and_succeeds_later(kit: Kit) -> None:
    key, payload = alert(3)
    processing = Processing(kit.store, failures={key: ATTEMPTS - 1})
    inbox = kit.inbox(processing)
    await inbox.accept(key, payload, "secure_webhook")
    await kit.processed([key])
    assert (await kit.store.alert_state(key) or ("", None))[0] == "done"
    assert processing.calls == {key: ATTEMPTS}
    assert inbox.parked() == 0


async def test_an_alert_that_always_fails_is_parked_and_counted(kit: Kit) -> None:
    key, payload = alert(4)
    processing = Processing(kit.store, always={key})
    inbox = kit.inbox(processing)
    await inbox.accept(key, payload, "shared_secret")
    await kit.processed([key])
    assert (await kit.store.alert_state(key) or ("", None))[0] == "failed"
    assert processing.calls == {key: ATTEMPTS}
    assert await asyncio.to_thread(inbox.parked) == 1
    if kit.kind == "queue":
        poison = inbox._poison
        parked = await poison.peek_messages(max_messages=32)
        assert [json.loads(m.content) for m in parked] == [{"key": key}]  # the claim check, nothing else
        assert "the queue alerts-" in inbox.where_parked() and inbox.where_parked().endswith("-poison")
        events = [e for e in await kit.store.events() if e.event == "alert_parked"]
        assert [(e.detail["key"], e.detail["error"]) for e in events] == [(key, "ConnectionError")]


async def test_two_instances_share_the_inbox_and_process_each_alert_once(kit: Kit) -> None:
    processing = Processing(kit.store)
    first, second = kit.inbox(processing), kit.inbox(processing)
    alerts = [alert(n) for n in range(300)]
    senders = asyncio.Semaphore(16)  # as many at once as Azure Monitor's deliveries to a webhook, roughly

    async def deliver(n: int, key: str, payload: dict[str, Any]) -> str:
        async with senders:
            result: str = await (first if n % 2 else second).accept(key, payload, "shared_secret")
            return result

    results = await asyncio.gather(*(deliver(n, key, payload) for n, (key, payload) in enumerate(alerts)))
    assert Counter(results) == {"new": 300}
    await kit.processed([key for key, _ in alerts])
    assert sorted(processing.calls.values()) == [1] * 300  # none twice, none lost
    assert (first.parked(), second.parked()) == (0, 0)


async def _true(value: bool) -> bool:
    return value


async def test_a_queued_key_the_store_does_not_know_is_parked_not_dropped(kit: Kit) -> None:
    if kit.kind != "queue":
        pytest.skip("the store inbox has no message apart from its entry")
    processing = Processing(kit.store)
    inbox = kit.inbox(processing)
    await inbox._ensure_queues()
    await inbox._queue.send_message(json.dumps({"key": "never-stored"}))  # e.g. a queue shared by two stores

    async def parked() -> list[Any]:
        return [e for e in await kit.store.events() if e.event == "alert_parked"]

    await eventually(lambda: _true(inbox.parked() == 1), "the message is parked", timeout=30)

    async def audited() -> bool:
        return bool(await parked())

    await eventually(audited, "the parking is audited")
    assert processing.calls == {}
    events = await parked()
    assert [e.detail["key"] for e in events] == ["never-stored"] and "no delivery" in events[0].detail["error"]
