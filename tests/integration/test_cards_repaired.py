"""No plan without a way to decide it (issue 28): a waiting plan whose card never reached Teams is posted again once,
then expired, saying why; /readyz and /metrics count such plans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp

from bot.app import _repair_cards
from bot.domain.plan import PlanState, Thread, ThreadKind
from bot.domain.transitions import present
from sandbox import Sandbox
from sandbox.driver import TeamsDriver
from sandbox.monitor import alert_payload
from tests.unit.factories import proposed

from .harness import RunningBot, card_text, eventually


async def _alert(bot: RunningBot, sandbox: Sandbox, rule: str) -> str:
    vm = next(v for v in sandbox.world.vms if v.name == "web-02")
    async with (
        aiohttp.ClientSession() as s,
        s.post(f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", json=alert_payload(rule, [vm])) as r,
    ):
        assert r.status == 202
        key = (await r.json())["inboxKey"]

    async def processed() -> bool:
        return bool(await bot.container.store.alert_outcome(key))

    await eventually(processed, "the alert is processed")
    outcome = await bot.container.store.alert_outcome(key)
    return str(outcome["plans"][0]["id"])


async def _events(bot: RunningBot, plan_id: str) -> list[str]:
    return [e.event for e in await bot.container.store.events(plan_id)]


async def test_a_thread_teams_refused_to_open_is_opened_again_with_the_card_and_a_notice(
    bot: RunningBot, driver: TeamsDriver, sandbox: Sandbox
) -> None:
    channel = sandbox.world.channels[0].channel_id
    sandbox.connector.remove_from_team(channel, threads=1)  # the first thread is refused (403), the next one not
    plan_id = await _alert(bot, sandbox, "High CPU on web-02")
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card), timeout=30)
    notice = await driver.wait_for(lambda m: "posted again" in m.text, conversation_id=card.conversation_id, timeout=30)
    assert "could not be opened" in notice.text and "403" in notice.text
    await bot.settled()
    plan = await bot.container.store.get(plan_id)
    assert plan.state is PlanState.AWAITING_CONSENT and plan.thread.card_activity_id == card.id  # decidable
    events = await _events(bot, plan_id)
    assert events.count("card_reposted") == 1 and events.count("outbox_dead_letter") == 2  # the thread, its card
    incident = [m for m in await driver.bot_messages(card.conversation_id) if m.card is not None]
    assert len(incident) == 2 and plan_id not in card_text(incident[0].card)  # the new thread: the incident, the plan


async def test_a_card_that_cannot_reach_teams_twice_expires_its_plan_saying_why(bot: RunningBot, sandbox: Sandbox) -> None:
    sandbox.connector.remove_from_team(sandbox.world.channels[0].channel_id)  # every thread refused
    plan_id = await _alert(bot, sandbox, "High CPU on web-02")

    async def expired() -> bool:
        plan = await bot.container.store.get(plan_id)
        return plan is not None and plan.state is PlanState.EXPIRED

    await eventually(expired, "the plan expires", timeout=30)
    plan = await bot.container.store.get(plan_id)
    assert "could not be posted in Teams" in (plan.reason or "")
    events = await _events(bot, plan_id)
    assert events.count("card_reposted") == 1 and events.count("plan_expired") == 1
    assert bot.container.metrics.registry.get_sample_value("sre_consent_card_repairs_total", {"outcome": "expired"}) == 1


async def test_a_waiting_plan_whose_card_was_never_written_is_counted_and_its_card_posted_by_the_sweep(
    make_bot: Callable[..., RunningBot], sandbox: Sandbox
) -> None:
    """A plan stored without its card (as a store that lost the message would leave it): the sweep counts it on
    /readyz and /metrics, and posts its card."""
    bot = make_bot(SWEEP_INTERVAL_SECONDS="3600")  # this test runs the sweep's repair itself, once
    channel = Thread(sandbox.connector.base_url, sandbox.world.channels[0].channel_id, sandbox.world.home_tenant_id, ThreadKind.CHANNEL)
    now = datetime.now(UTC)
    plan = replace(present(proposed(), now), id="p-cardless01", thread=channel, expires_at=now + timedelta(hours=1))
    async with bot.container.store.unit_of_work() as uow:
        uow.add(plan)

    async def sweep() -> None:
        await _repair_cards(bot.container)

    await asyncio.to_thread(bot.thread.call, sweep)
    async with aiohttp.ClientSession() as s, s.get(f"{bot.url}/readyz") as r:
        checks = (await r.json())["checks"]
    assert checks["plans_without_card"] == 1 and "posted again once" in checks["cards"]
    assert bot.container.metrics.registry.get_sample_value("sre_consent_plans_without_card") == 1
    assert bot.container.metrics.registry.get_sample_value("sre_consent_card_repairs_total", {"outcome": "reposted"}) == 1
    async with sandbox.driver(bot.messages_url) as driver:
        card = await driver.wait_for(lambda m: m.card is not None and plan.id in card_text(m.card), timeout=30)
    await bot.settled()
    assert "card_reposted" in await _events(bot, plan.id)
    assert (await bot.container.store.get(plan.id)).thread.card_activity_id == card.id
