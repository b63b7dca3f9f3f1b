"""The alert inbox under a flood: every alert posted as fast as possible is accepted at once and processed once."""

from __future__ import annotations

from pathlib import Path

from sandbox import Sandbox
from sandbox.monitor import alert_payload
from tests.bench.alerts import flood

from .harness import RunningBot


async def test_five_thousand_alerts_are_all_accepted_and_all_processed(bot: RunningBot, sandbox: Sandbox, store_path: Path) -> None:
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    payloads = [alert_payload(f"Disk almost full {i}", [vm]) for i in range(5_000)]  # distinct alerts, no plan matches
    result = await flood(f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", payloads, store_path)
    assert (result.posted, result.accepted, result.other) == (5_000, 5_000, {})
    assert (result.processed, result.failed) == (5_000, 0)  # none lost, none given up
    again = await flood(f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", payloads[:100], store_path)
    assert again.other == {200: 100}  # repeats of processed deliveries are recognised
