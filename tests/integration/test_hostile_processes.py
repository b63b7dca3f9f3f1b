"""Issue 25's two medium findings, end to end through the sandbox with the bot as a real `sre-consent-bot serve`
process (configured only through environment variables, as a deployment is: tests/integration/processes.py):

- the webhook with the URL secret: a forged "Resolved" naming a real, still-firing alert withdraws nothing and does
  not use up the key of the genuine "Resolved" Azure Monitor sends later;
- a flood of 125 messages from someone of another tenant in a group chat, then an approver's click that succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import TeamsDriver
from sandbox.monitor import alert_payload, fire, resolve

from ..azurite import Azurite
from .harness import Teams, eventually
from .processes import BotProcess, BotProcesses

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
async def processes(sandbox: Sandbox, azurite: Azurite, tmp_path: Path) -> AsyncIterator[BotProcesses]:
    procs = BotProcesses(sandbox, azurite, tmp_path)
    try:
        yield procs
    finally:
        await procs.close()


async def _alert(session: aiohttp.ClientSession, bot: BotProcess, sandbox: Sandbox, payload: Any) -> tuple[int, dict[str, Any]]:
    """POST the alert with the URL secret, as a plain webhook does; once accepted, wait until the process has acted on
    it and return what it did (GET /api/incidents/status)."""
    code = {"code": sandbox.webhook_secret}
    async with session.post(f"{bot.url}/api/incidents", params=code, json=payload) as r:
        status, body = r.status, await r.json()
    if status != 202:
        return status, body
    outcome: dict[str, Any] = {}

    async def done() -> bool:
        async with session.get(f"{bot.url}/api/incidents/status", params={"key": body["inboxKey"], **code}) as r:
            outcome.update(await r.json())
            return r.status == 200

    await eventually(done, "the process acts on the alert", timeout=60)
    return status, outcome


async def test_a_forged_resolved_sent_with_the_url_secret_leaves_the_plan_waiting_and_the_genuine_one_ends_it(
    sandbox: Sandbox, processes: BotProcesses
) -> None:
    bot = await processes.start("webhook")
    web02 = next(v for v in sandbox.world.vms if v.name == "web-02")
    fired = fire(sandbox.arm.alerts, "High CPU on web-02", [web02])  # Azure Monitor fires it: it is real
    alert_id = fired["data"]["essentials"]["alertId"]
    async with aiohttp.ClientSession() as session:
        status, outcome = await _alert(session, bot, sandbox, fired)
        assert status == 202 and outcome["authentication"] == "shared_secret"
        (plan,) = outcome["plans"]
        forged = alert_payload("High CPU on web-02", [web02], resolved=True, alert_id=alert_id)  # Azure Monitor never sent it
        status, outcome = await _alert(session, bot, sandbox, forged)
        assert status == 202 and outcome["expired"] == [] and "still reports the alert firing" in outcome["ignored"]
        stored = await processes.store.get(plan["id"])
        assert stored is not None and stored.state is PlanState.AWAITING_CONSENT
        genuine = resolve(sandbox.arm.alerts, alert_id)  # the condition clears; Azure Monitor says so itself
        status, outcome = await _alert(session, bot, sandbox, genuine)
        assert status == 202 and outcome["expired"] == [plan["id"]]  # not "200 duplicate": the forgery took no key
    stored = await processes.store.get(plan["id"])
    assert stored is not None and stored.state is PlanState.EXPIRED


async def test_an_outsiders_flood_of_125_messages_and_then_an_approvers_click_that_succeeds(
    sandbox: Sandbox, processes: BotProcesses, request: pytest.FixtureRequest
) -> None:
    """The conversation may carry 30 commands and clicks a minute, so the flood outpaces its refill on any machine;
    mallory's own limit is the default (60)."""
    bot = await processes.start("flood", RATE_LIMIT_CONVERSATION_PER_MINUTE="30")
    chat = TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"flood-{request.node.name[-12:]}-{bot.port}")
    mallory = sandbox.world.user("mallory")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        sent: list[dict[str, Any]] = []

        async def flood(n: int) -> None:
            for _ in range(n):
                sent.append(await d.say(mallory, "help", chat))

        await asyncio.gather(*(flood(25) for _ in range(5)))  # 125 messages, 5 at a time
        result = await teams.click("alice", chat, card, "approve")
        assert result.type == "application/vnd.microsoft.card.adaptive", result.body
        await teams.wait_card(card, "Succeeded", timeout=60)
        flood_ids = {a["id"] for a in sent}

        async def quiet() -> bool:
            return await asyncio.to_thread(processes.store.outbox_depth) == 0

        await eventually(quiet, "the process has sent what it had to send", timeout=60)
        answers = [m for m in await d.bot_messages(chat.id) if m.reply_to_id in flood_ids]
    assert len(sent) == 125 and 1 <= len(answers) <= 5, [m.text for m in answers]
    audited = [e for e in await processes.store.events() if e.actor == mallory.object_id]
    assert 1 <= len(audited) <= 5
