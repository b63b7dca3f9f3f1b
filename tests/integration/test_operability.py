"""/metrics, /healthz, /readyz in the sandbox, counters moving through one approval, and traces."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver

from ..conftest import LOG_LINES
from .harness import RunningBot, Teams, bot_settings, start_bot


@pytest.fixture
def bot(sandbox: Sandbox, store_path: Path) -> Iterator[RunningBot]:
    """The bot with its metrics listener on (METRICS_PORT, a free loopback port)."""
    running = start_bot(bot_settings(sandbox, store_path, METRICS_PORT="0"))
    yield running
    running.stop()


async def _metrics(driver: TeamsDriver, bot: RunningBot) -> dict[str, float]:
    assert bot.container.metrics_url is not None and bot.container.metrics_url.startswith("http://127.0.0.1:")
    async with driver.session.get(bot.container.metrics_url) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+(?:\{[^}]*\})?) ([\d.e+-]+)$", line)
        if m:
            values[m[1]] = float(m[2])
    return values


async def test_counters_move_through_one_approval(teams: Teams, driver: TeamsDriver, bot: RunningBot, chat: Conversation) -> None:
    before = await _metrics(driver, bot)
    assert before.get("sre_consent_approvals_total", 0) == 0
    card = await teams.ask("carol", "restart vm dev-01", chat)
    mid = await _metrics(driver, bot)
    assert mid['sre_consent_plans{state="awaiting_consent"}'] == 1
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "Succeeded")
    after = await _metrics(driver, bot)
    assert after["sre_consent_approvals_total"] == 1
    assert after['sre_consent_plans{state="succeeded"}'] == 1
    assert after['sre_consent_action_seconds_count{identity="agent",result="action_succeeded"}'] == 1
    assert after['sre_consent_audit_events_total{event="approval_given"}'] == 1
    assert "sre_consent_outbox_depth" in after


async def test_health_and_readiness_answer(driver: TeamsDriver, bot: RunningBot) -> None:
    async with driver.session.get(f"{bot.url}/healthz") as r:
        assert r.status == 200 and (await r.json())["status"] == "ok"
    async with driver.session.get(f"{bot.url}/readyz") as r:
        body = await r.json()
        assert r.status == 200 and body == {"status": "ready", "checks": dict.fromkeys(("store", "outbox", "inbox", "directory"), "ok")}
    async with driver.session.get(str(bot.container.readiness_url)) as r:  # the detail, on the metrics listener
        assert r.status == 200 and "outbox_depth" in (await r.json())["checks"]
    bot.container.store.close()  # the store goes away: readiness must say so
    async with driver.session.get(f"{bot.url}/readyz") as r:
        assert r.status == 503 and (await r.json())["checks"]["store"] == "failed"


async def test_every_transition_is_logged_as_json_with_the_plan_id(teams: Teams, chat: Conversation) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    plan_lines = [line for line in LOG_LINES if '"event": "consent_requested"' in line]
    assert plan_lines and '"plan_id": "p-' in plan_lines[-1]
    assert card.card is not None


def recording_spans() -> InMemorySpanExporter:
    """The spans the bot ends from now on. The bot uses the global provider, as with Application Insights; OpenTelemetry
    lets a process set it once, so the first test to ask sets it and later ones add their exporter to it."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_requests_and_executions_are_traced(teams: Teams, chat: Conversation) -> None:
    exporter = recording_spans()
    card = await teams.ask("carol", "restart vm dev-01", chat)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "Succeeded")
    deadline = time.monotonic() + 10  # the run's span ends after the card update and the result reply
    while not any(s.name.startswith("run p-") for s in exporter.get_finished_spans()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    names = {s.name for s in exporter.get_finished_spans()}
    assert "POST /api/messages" in names and any(n.startswith("run p-") for n in names)
    events = {e.name for s in exporter.get_finished_spans() for e in s.events}
    assert {"approval_given", "execution_started", "action_succeeded"} <= events
