"""5,000 Azure Monitor alerts posted as fast as possible: all accepted, all processed, none lost.

`python -m tests.bench.alerts` (also run by `make bench`) posts distinct common-schema alerts to `/api/incidents`
with the webhook secret at a fixed concurrency, then waits for the inbox worker to process every one. `make bench`
runs the same flood against the bot in its own process and writes the figures to docs/benchmarks.md;
tests/integration/test_alert_inbox.py runs it too and asserts the counts (never timings).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALERTS = int(os.environ.get("BENCH_ALERTS", "5000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
OUT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


@dataclass
class Flood:
    posted: int
    accepted: int  # answered 202
    other: dict[int, int]  # any other status, by status
    processed: int  # inbox entries processed (state done)
    failed: int  # inbox entries given up
    post_seconds: float
    total_seconds: float  # until the last alert was processed
    p50_ms: float
    p95_ms: float


def inbox_counts(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall())


async def flood(url: str, payloads: list[dict[str, Any]], store: Path, concurrency: int = CONCURRENCY, timeout: float = 600.0) -> Flood:
    """POST every payload to `url` (concurrency at a time), then wait until the inbox has processed them all."""
    import aiohttp  # here: `main` sets SSL_CERT_FILE first

    queue = list(reversed(payloads))
    statuses: list[int] = []
    latencies: list[float] = []
    start = time.perf_counter()

    async def worker(session: Any) -> None:
        while queue:
            payload = queue.pop()
            t = time.perf_counter()
            async with session.post(url, json=payload) as r:
                await r.read()
                statuses.append(r.status)
            latencies.append((time.perf_counter() - t) * 1000)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    posted = time.perf_counter() - start
    deadline = time.monotonic() + timeout
    counts = inbox_counts(store)
    while counts.get("pending", 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        counts = inbox_counts(store)
    total = time.perf_counter() - start
    other: dict[int, int] = {}
    for s in statuses:
        if s != 202:
            other[s] = other.get(s, 0) + 1
    quantiles = statistics.quantiles(latencies, n=20)
    return Flood(
        len(statuses),
        statuses.count(202),
        other,
        counts.get("done", 0),
        counts.get("failed", 0),
        posted,
        total,
        statistics.median(latencies),
        quantiles[18],
    )


def main() -> None:
    import tempfile

    from sandbox import Sandbox
    from sandbox.monitor import alert_payload
    from sandbox.tls import SandboxTLS
    from tests.integration.harness import bot_settings, start_bot

    tmp = Path(tempfile.mkdtemp(prefix="sre-consent-alerts-"))
    tls = SandboxTLS.create(tmp)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.ca_path)
    box = Sandbox.start(tmp, tls=tls, operation_seconds=0.05)
    store = tmp / "alerts.sqlite3"
    bot = start_bot(bot_settings(box, store, LOG_LEVEL="WARNING"))
    try:
        vm = next(v for v in box.world.vms if v.name == "dev-01")
        payloads = [alert_payload(f"Disk almost full {i}", [vm]) for i in range(ALERTS)]
        result = asyncio.run(flood(f"{bot.url}/api/incidents?code={box.webhook_secret}", payloads, store))
    finally:
        bot.stop()
        box.stop()
    print(result)  # `make bench` (tests/bench/__main__.py) runs the same flood and writes the figures


if __name__ == "__main__":
    main()
