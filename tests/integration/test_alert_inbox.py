"""The alert inbox under a flood: every alert posted as fast as possible is accepted at once and processed once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.monitor import alert_payload
from tests.bench.alerts import flood

from .harness import RunningBot

# `make test` floods a bounded number (ALERT_FLOOD_ALERTS); the specification's 5,000 runs in `make test-scale` (and
# `make bench` times it): on a loaded machine 5,000 took longer than a test of `make test` may
BOUNDED = int(os.environ.get("ALERT_FLOOD_ALERTS", "1000"))


@pytest.mark.parametrize(
    "alerts",
    [
        pytest.param(BOUNDED, id="bounded", marks=pytest.mark.timeout(300)),
        pytest.param(5_000, id="5000", marks=[pytest.mark.scale, pytest.mark.timeout(1200)]),
    ],
)
async def test_alerts_posted_fast_are_all_accepted_and_all_processed(
    bot: RunningBot, sandbox: Sandbox, store_path: Path, alerts: int
) -> None:
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    payloads = [alert_payload(f"Disk almost full {i}", [vm]) for i in range(alerts)]  # distinct alerts, no plan matches
    result = await flood(f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", payloads, store_path)
    assert (result.posted, result.accepted, result.other) == (alerts, alerts, {})
    assert (result.processed, result.failed) == (alerts, 0)  # none lost, none given up
    repeats = min(100, alerts)
    again = await flood(f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", payloads[:repeats], store_path)
    assert again.other == {200: repeats}  # repeats of processed deliveries are recognised
