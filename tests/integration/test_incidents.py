"""Incident notifications: Azure Monitor alerts open channel threads; autonomous mode only inside a response plan."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox import Sandbox
from sandbox.driver import BotMessage, TeamsDriver
from sandbox.monitor import alert_payload
from sandbox.world import VirtualMachine

from .harness import RunningBot, Teams, card_text

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"


def _vm(sandbox: Sandbox, name: str) -> Any:
    return next(v for v in sandbox.world.vms if v.name == name)


async def _post(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, payload: Any, code: str | None = None) -> tuple[int, Any]:
    url = f"{bot.url}/api/incidents?code={code if code is not None else sandbox.webhook_secret}"
    async with driver.session.post(url, json=payload) as r:
        return r.status, await r.json()


async def _thread_cards(driver: TeamsDriver, conversation_id: str) -> list[BotMessage]:
    return [m for m in await driver.bot_messages(conversation_id) if m.card]


async def test_reviewed_response_plan_opens_a_thread_with_the_incident_then_the_plan(
    teams: Teams, driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    since = len(sandbox.arm.writes)
    status, body = await _post(driver, bot, sandbox, alert_payload("High CPU on web-02", [_vm(sandbox, "web-02")], severity="Sev2"))
    assert status == 202 and body["matched"] == ["high-cpu"] and body["plans"][0]["state"] == "awaiting_consent"
    plan_card = await driver.wait_for(lambda m: m.card is not None and body["plans"][0]["id"] in card_text(m.card))
    assert plan_card.conversation_id.startswith(sandbox.world.channels[0].channel_id + ";messageid=")
    cards = await _thread_cards(driver, plan_card.conversation_id)
    assert "High CPU on web-02" in card_text(cards[0].card) and "Sev2" in card_text(cards[0].card)
    await bot.settled()
    assert sandbox.arm.writes[since:] == []  # review mode: nothing until a responder approves


async def test_autonomous_plan_acts_at_once_and_still_asks_for_credentials(
    teams: Teams, driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    since = len(sandbox.arm.writes)
    status, body = await _post(driver, bot, sandbox, alert_payload("Web tier unresponsive", [_vm(sandbox, "web-01")]))
    assert status == 202 and body["matched"] == ["web-hung"]
    plan_id = body["plans"][0]["id"]
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card)
                                 and "credentials needed" in card_text(m.card))
    assert "implicit" in (await teams.wait_reply(card, "refused")).text  # consent was implicit
    assert not [w for w in sandbox.arm.writes[since:] if w.caller_oid != sandbox.world.agent.object_id]
    channel = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    await teams.click("alice", channel, card, "grant", token=sandbox.entra.sso_token("alice"))
    await teams.wait_card(card, "Succeeded")
    writes = [w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/web-01")]
    assert [w.caller_oid for w in writes] == [sandbox.world.user("alice").object_id]


async def test_repeated_delivery_acts_once_and_resolution_is_told_in_the_thread(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    payload = alert_payload("High CPU on dev-01", [_vm(sandbox, "dev-01")])
    first, body = await _post(driver, bot, sandbox, payload)
    again, repeat = await _post(driver, bot, sandbox, payload)
    assert (first, again, repeat["duplicate"]) == (202, 200, True)
    alert_id = payload["data"]["essentials"]["alertId"]
    resolved = alert_payload("High CPU on dev-01", [_vm(sandbox, "dev-01")], resolved=True, alert_id=alert_id)
    status, _ = await _post(driver, bot, sandbox, resolved)
    assert status == 202
    plan_id = body["plans"][0]["id"]
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card))
    await driver.wait_for(lambda m: "resolved" in m.text, conversation_id=card.conversation_id)


async def test_unmatched_alert_is_accepted_and_does_nothing(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    status, body = await _post(driver, bot, sandbox, alert_payload("Disk almost full", [_vm(sandbox, "dev-01")]))
    assert status == 202 and body["matched"] == [] and body["plans"] == []


async def test_bad_secret_is_401_and_bad_payload_400(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    good = alert_payload("High CPU on dev-01", [_vm(sandbox, "dev-01")])
    assert (await _post(driver, bot, sandbox, good, code="wrong"))[0] == 401
    assert (await _post(driver, bot, sandbox, good, code=""))[0] == 401
    status, body = await _post(driver, bot, sandbox, {"schemaId": "other", "data": {"essentials": {"severity": "Sev9"}}})
    assert status == 400 and "schemaId" in body["error"] and "severity" in body["error"] and "alertRule" in body["error"]


async def test_alert_across_two_subscriptions_acts_only_on_allowed_distinct_capped_targets(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    plans = sandbox.response_plans()
    web_hung = plans["responsePlans"][0]  # type: ignore[index]
    web_hung["maxTargets"] = 2
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(plans))
    bot = make_bot(RESPONSE_PLANS_FILE=str(path))
    dev01, web01, web02 = (_vm(sandbox, n) for n in ("dev-01", "web-01", "web-02"))
    elsewhere = [VirtualMachine(OTHER_SUB, "prod-rg", "web-01"), VirtualMachine(OTHER_SUB, "dev-rg", "dev-01")]
    payload = alert_payload("Web tier unresponsive", [dev01, elsewhere[0], web01, elsewhere[1], web02])
    targets = payload["data"]["essentials"]["alertTargetIDs"]
    targets.insert(1, dev01.id.upper())  # the same VM again, other casing
    requests_before, writes_before = len(sandbox.arm.requests), len(sandbox.arm.writes)
    async with sandbox.driver(bot.messages_url) as driver:
        status, body = await _post(driver, bot, sandbox, payload)
        assert status == 202 and body["matched"] == ["web-hung"]
        plan_id = body["plans"][0]["id"]
        plan = await bot.container.store.get(plan_id)
        assert plan is not None and [a.resource.name for a in plan.actions] == ["dev-01", "web-01"]
        card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card)
                                     and "credentials needed" in card_text(m.card))
        told = await driver.wait_for(lambda m: "leaves alone" in m.text, conversation_id=card.conversation_id)
        assert "2 target(s) outside its scopes" in told.text and "beyond its limit of 2" in told.text
        assert "web-02" in told.text
    writes = sandbox.arm.writes[writes_before:]
    assert [(w.vm_id.rsplit("/", 1)[1], w.caller_oid) for w in writes] == [("dev-01", sandbox.world.agent.object_id)]
    assert not [p for _, p in sandbox.arm.requests[requests_before:] if OTHER_SUB in p.lower()]
