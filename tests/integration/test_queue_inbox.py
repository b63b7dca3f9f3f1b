"""STORE=azure-tables: alerts go through an Azure Storage Queue (on Azurite) that several instances share."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.adapters.queue_inbox import clients
from sandbox import Sandbox
from sandbox.monitor import alert_payload
from tests.azurite import Azurite

from .harness import RunningBot, eventually
from .queue_flood import post_through_queue, start_queue_bots

# `make test` posts a bounded flood (QUEUE_FLOOD_ALERTS, about a minute on a shared machine); the specification's
# 5,000 runs in `make test-scale` (Azurite answers ~8 storage requests per alert: many minutes under load)
BOUNDED = int(os.environ.get("QUEUE_FLOOD_ALERTS", "400"))


@pytest.fixture
def two_instances(sandbox: Sandbox, azurite: Azurite, tmp_path: Path) -> Iterator[list[RunningBot]]:
    bots = start_queue_bots(sandbox, azurite, tmp_path, n=2)
    yield bots
    for b in bots:
        b.stop()


@pytest.mark.parametrize(
    "alerts",
    [
        pytest.param(BOUNDED, id="bounded", marks=pytest.mark.timeout(600)),
        pytest.param(5_000, id="5000", marks=[pytest.mark.scale, pytest.mark.timeout(2400)]),
    ],
)
async def test_alerts_posted_fast_on_two_instances_are_each_processed_once(
    two_instances: list[RunningBot], sandbox: Sandbox, alerts: int
) -> None:
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    payloads = [alert_payload(f"Disk almost full {i}", [vm]) for i in range(alerts)]  # distinct alerts, no plan matches
    result = await post_through_queue(two_instances, sandbox.webhook_secret, payloads, timeout=2000)
    assert (result.posted, result.statuses) == (alerts, {202: alerts})  # all accepted at once
    assert (result.processed, result.pending, result.failed) == (alerts, 0, 0)  # none lost, none given up, none twice
    assert all(n > 0 for n in result.per_instance)  # both instances took their share of the queue
    repeats = min(100, alerts)
    again = await post_through_queue(two_instances, sandbox.webhook_secret, payloads[:repeats])
    assert again.statuses == {200: repeats}  # repeats of processed deliveries are recognised
    assert again.processed == alerts  # and not processed again


async def test_an_alert_that_cannot_be_processed_is_parked_and_shown(sandbox: Sandbox, azurite: Azurite, tmp_path: Path) -> None:
    [bot] = start_queue_bots(sandbox, azurite, tmp_path, n=1, INBOX_MAX_DEQUEUE_COUNT="2", METRICS_PORT="0")
    try:
        name = bot.container.settings.store.inbox_queue_name
        key = f"unprocessable-{uuid.uuid4().hex[:8]}"
        # an inbox entry the processing always refuses (not a common-schema alert), and its message on the queue
        await bot.container.store.accept_alert(key, {"schemaId": "not-an-alert"}, "shared_secret")
        queue, poison = clients(name, connection_string=azurite.connection_string)
        async with queue, poison:
            await queue.send_message(json.dumps({"key": key}))
            async with aiohttp.ClientSession() as session:

                async def readyz() -> dict[str, object]:
                    async with session.get(str(bot.container.readiness_url)) as r:  # the detail: metrics listener
                        return dict((await r.json())["checks"])

                async def shown() -> bool:
                    return (await readyz())["inbox_parked"] == 1

                await eventually(shown, "/readyz counts the parked alert", timeout=60)
                checks = await readyz()
                assert f"parked in the queue {name}-poison" in str(checks["inbox"])
                assert checks["inbox_failed"] == 1
                async with session.get(str(bot.container.metrics_url)) as r:
                    assert "sre_consent_inbox_parked 1.0" in await r.text()
                status = f"{bot.url}/api/incidents/status?key={key}&code={sandbox.webhook_secret}"
                async with session.get(status) as r:
                    assert (r.status, (await r.json())["status"]) == (200, "failed")
            parked = await poison.peek_messages(max_messages=32)
            assert [json.loads(m.content) for m in parked] == [{"key": key}]
        events = [e for e in await bot.container.store.events() if e.event == "alert_parked"]
        assert [(e.detail["key"], e.detail["queue"], e.detail["receives"]) for e in events] == [(key, f"{name}-poison", "2")]
    finally:
        bot.stop()
