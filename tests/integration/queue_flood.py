"""Alerts posted to several bot instances that share one Azure Storage Queue inbox (STORE=azure-tables), counted.

`post_through_queue(bots, secret, payloads)` posts every payload to `/api/incidents` (round robin over the
instances, `concurrency` at a time), waits until the instances have processed every accepted alert, and returns
the counts; tests/integration/test_queue_inbox.py asserts them and `make bench` may time them. `start_queue_bots`
starts `n` instances on a session's Azurite (tests/azurite.py) sharing one store and one queue.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from sandbox import Sandbox
from tests.azurite import Azurite

from .harness import RunningBot, bot_settings, start_bot


@dataclass
class QueueFlood:
    posted: int
    statuses: dict[int, int]  # answers, by status (202: accepted)
    processed: int  # processings that completed, summed over the instances
    per_instance: list[int]  # the same, per instance
    repeats: int  # queue copies recognised as repeats (deleted unprocessed)
    pending: int  # deliveries still waiting in the store
    failed: int  # deliveries given up (parked)
    post_seconds: float
    total_seconds: float  # until the last accepted alert was processed


def start_queue_bots(box: Sandbox, azurite: Azurite, store_dir: Path, n: int = 2, **overrides: str) -> list[RunningBot]:
    """`n` bot instances sharing one store (tables with a fresh prefix) and one inbox queue (a fresh name)."""
    shared = {
        "STORE": "azure-tables",
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "STORE_TABLE_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        "INBOX_QUEUE_NAME": f"alerts-{uuid.uuid4().hex[:12]}",
        **overrides,
    }
    return [start_bot(bot_settings(box, store_dir / f"unused-{i}.sqlite3", **shared)) for i in range(n)]


async def post_through_queue(
    bots: list[RunningBot], secret: str, payloads: list[dict[str, Any]], concurrency: int = 16, timeout: float = 600.0
) -> QueueFlood:
    queue = list(enumerate(payloads))
    queue.reverse()
    statuses: Counter[int] = Counter()
    start = time.perf_counter()

    async def worker(session: aiohttp.ClientSession) -> None:
        while queue:
            n, payload = queue.pop()
            async with session.post(f"{bots[n % len(bots)].url}/api/incidents?code={secret}", json=payload) as r:
                await r.read()
                statuses[r.status] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    posted = time.perf_counter() - start

    def processed() -> list[int]:
        return [b.container.inbox.processed for b in bots]  # type: ignore[attr-defined]

    deadline = time.monotonic() + timeout
    while sum(processed()) < statuses[202] and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # polling the counters, with a deadline
    total = time.perf_counter() - start
    store = bots[0].container.store
    pending, failed = await asyncio.to_thread(lambda: (store.inbox_depth(), store.failed_alerts()))
    return QueueFlood(
        posted=sum(statuses.values()),
        statuses=dict(statuses),
        processed=sum(processed()),
        per_instance=processed(),
        repeats=sum(b.container.inbox.repeats for b in bots),  # type: ignore[attr-defined]
        pending=pending,
        failed=failed,
        post_seconds=posted,
        total_seconds=total,
    )
