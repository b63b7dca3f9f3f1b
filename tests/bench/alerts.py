"""5,000 Azure Monitor alerts posted as fast as possible: all accepted, all processed, none lost.

`python -m tests.bench.alerts` (also run by `make bench`) posts distinct common-schema alerts to `/api/incidents`
with the webhook secret at a fixed concurrency, then waits for the inbox worker to process every one, and writes
the figures to the "Alerts" section of docs/benchmarks.md. tests/integration/test_alert_inbox.py runs the same
flood and asserts the counts (never timings).
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ALERTS = int(os.environ.get("BENCH_ALERTS", "5000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
OUT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- alerts:begin -->", "<!-- alerts:end -->"


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
    print(result)
    row = (
        f"| {result.posted} | {result.accepted} | {result.other or 'none'} | {result.processed} | {result.failed} | "
        f"{result.post_seconds:.1f} s | {result.total_seconds:.1f} s | {result.p50_ms:.1f} | {result.p95_ms:.1f} |"
    )
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    section = f"""{BEGIN}
## Alerts: {result.posted:,} through the inbox

`python -m tests.bench.alerts` (part of `make bench`): {result.posted:,} distinct common-schema alerts posted to
`/api/incidents` (webhook secret) at concurrency {CONCURRENCY}, as fast as the client can send them; the
webhook stores each alert and answers 202, the inbox worker processes it afterwards.

Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}.

| posted | answered 202 | other answers | processed | given up | posting took | all processed after | p50 ms | p95 ms |
|---|---|---|---|---|---|---|---|---|
{row}

None lost: every alert answered 202 was processed (the test `tests/integration/test_alert_inbox.py` asserts
the same counts for its own flood).
{END}"""
    text = OUT.read_text() if OUT.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    OUT.write_text(text)


if __name__ == "__main__":
    main()
