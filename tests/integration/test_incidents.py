"""Incident notifications: Azure Monitor alerts open channel threads; autonomous mode only inside a response plan.

An autonomous response plan acts at once only for an alert posted through Azure Monitor's secure webhook (an Entra
token of the Action Groups app with the ActionGroupsSecureWebhook role) that Azure Monitor confirms firing; anything
else is proposed in review mode and the incident card says why. Runs against v1 and v2 token sandboxes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from bot.config import Settings
from sandbox import Sandbox
from sandbox.driver import BotMessage, TeamsDriver
from sandbox.monitor import alert_payload, fire, resolve
from sandbox.world import VirtualMachine

from ..conftest import each_token_version
from .harness import RunningBot, Teams, card_text, eventually

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"
ROLE = "ActionGroupsSecureWebhook"
sandbox = each_token_version()


def _token(sandbox: Sandbox, app_name: str = "action-groups") -> str:
    """What the action group sends: a client-credentials token for the bot's API (as `app_name`)."""
    app = sandbox.world.apps[app_name]
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    return cred.get_token(f"{sandbox.world.bot.app_id_uri}/.default").token


async def _secure(driver: TeamsDriver, bot: RunningBot, payload: Any, token: str) -> tuple[int, Any]:
    """POST as the secure webhook: a Bearer token, no secret in the URL."""
    async with driver.session.post(f"{bot.url}/api/incidents", json=payload, headers={"Authorization": f"Bearer {token}"}) as r:
        return await _processed(bot, r.status, await r.json())


async def _processed(bot: RunningBot, status: int, body: Any) -> tuple[int, Any]:
    """The webhook answers 202 as soon as the alert is stored; the inbox worker then processes it. For an accepted
    alert, wait until it is processed and return what processing did (response plans matched, plans proposed)."""
    if status != 202 or not body.get("accepted"):
        return status, body
    outcome: dict[str, Any] = {}

    async def processed() -> bool:
        outcome.update(await bot.container.store.alert_outcome(body["inboxKey"]) or {})
        return bool(outcome)

    await eventually(processed, "the alert is processed")
    return status, {**body, **outcome}


def _vm(sandbox: Sandbox, name: str) -> Any:
    return next(v for v in sandbox.world.vms if v.name == name)


async def _post(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, payload: Any, code: str | None = None) -> tuple[int, Any]:
    url = f"{bot.url}/api/incidents?code={code if code is not None else sandbox.webhook_secret}"
    async with driver.session.post(url, json=payload) as r:
        return await _processed(bot, r.status, await r.json())


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
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])
    status, body = await _secure(driver, bot, payload, _token(sandbox))
    assert status == 202 and body["matched"] == ["web-hung"] and body["authentication"] == "secure_webhook"
    assert body["plans"][0]["mode"] == "autonomous" and body["reviewInstead"] == []
    plan_id = body["plans"][0]["id"]
    card = await driver.wait_for(
        lambda m: m.card is not None and plan_id in card_text(m.card) and "credentials needed" in card_text(m.card)
    )
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
    payload = fire(sandbox.arm.alerts, "High CPU on dev-01", [_vm(sandbox, "dev-01")])
    first, body = await _post(driver, bot, sandbox, payload)
    again, repeat = await _post(driver, bot, sandbox, payload)
    assert (first, again, repeat["duplicate"]) == (202, 200, True)
    resolved = resolve(sandbox.arm.alerts, payload["data"]["essentials"]["alertId"])  # Azure Monitor resolves it, then says so
    status, outcome = await _post(driver, bot, sandbox, resolved)
    assert status == 202 and outcome["expired"] == [body["plans"][0]["id"]]
    assert (await _post(driver, bot, sandbox, resolved))[0] == 200  # its retry is a repeat
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
    web_hung["maxTargets"] = 1
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(plans))
    bot = make_bot(RESPONSE_PLANS_FILE=str(path))
    dev01, web01, web02 = (_vm(sandbox, n) for n in ("dev-01", "web-01", "web-02"))
    elsewhere = [VirtualMachine(OTHER_SUB, "prod-rg", "web-01"), VirtualMachine(OTHER_SUB, "dev-rg", "dev-01")]
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [dev01, elsewhere[0], web01, elsewhere[1], web02])
    targets = list(payload["data"]["essentials"]["alertTargetIDs"])
    targets.insert(1, dev01.id.upper())  # the same VM again, other casing
    payload["data"]["essentials"]["alertTargetIDs"] = targets
    requests_before, writes_before = len(sandbox.arm.requests), len(sandbox.arm.writes)
    async with sandbox.driver(bot.messages_url) as driver:
        status, body = await _secure(driver, bot, payload, _token(sandbox))
        assert status == 202 and body["matched"] == ["web-hung"] and body["plans"][0]["mode"] == "autonomous"
        plan_id = body["plans"][0]["id"]
        plan = await bot.container.store.get(plan_id)
        assert plan is not None and [a.resource.name for a in plan.actions] == ["dev-01"]
        card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card) and "Succeeded" in card_text(m.card))
        told = await driver.wait_for(lambda m: "leaves alone" in m.text, conversation_id=card.conversation_id)
        assert "2 target(s) outside its scopes" in told.text and "beyond its limit of 1" in told.text
        assert "web-01" in told.text and "web-02" in told.text
    writes = sandbox.arm.writes[writes_before:]
    assert [(w.vm_id.rsplit("/", 1)[1], w.caller_oid) for w in writes] == [("dev-01", sandbox.world.agent.object_id)]
    assert not [p for _, p in sandbox.arm.requests[requests_before:] if OTHER_SUB in p.lower()]


# -- the secure webhook ----------------------------------------------------------------------------------------------


async def test_tokens_other_than_azure_monitors_secure_webhook_are_refused(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])
    writes_before = len(sandbox.arm.writes)
    # the agent app: a valid app token for the bot's API, but neither the role nor Azure Monitor's app id
    status, body = await _secure(driver, bot, payload, _token(sandbox, "sre-agent"))
    assert status == 403 and "Action Groups" in body["error"]
    # another app that somehow holds the role: still not Azure Monitor's app id
    intruder = sandbox.world.apps["unlisted-app"]
    intruder.api_roles[sandbox.world.bot.app_id_uri or ""] = {ROLE}
    try:
        status, body = await _secure(driver, bot, payload, _token(sandbox, "unlisted-app"))
    finally:
        intruder.api_roles.clear()
    assert status == 403 and intruder.client_id in body["error"]
    # Azure Monitor's app without the role assignment
    action_groups = sandbox.world.apps["action-groups"]
    held = action_groups.api_roles.pop(sandbox.world.bot.app_id_uri or "")
    try:
        status, body = await _secure(driver, bot, payload, _token(sandbox))
    finally:
        action_groups.api_roles[sandbox.world.bot.app_id_uri or ""] = held
    assert status == 403 and ROLE in body["error"]
    # a person's token (Teams SSO, delegated) is never the webhook
    status, body = await _secure(driver, bot, payload, sandbox.entra.sso_token("alice"))
    assert status == 403 and "signed-in user" in body["error"]
    # not a token at all; a bad token is not rescued by a good secret either
    assert (await _secure(driver, bot, payload, "not-a-jwt"))[0] == 401
    async with driver.session.post(
        f"{bot.url}/api/incidents?code={sandbox.webhook_secret}", json=payload, headers={"Authorization": "Bearer not-a-jwt"}
    ) as r:
        assert r.status == 401
    assert sandbox.arm.writes[writes_before:] == []
    assert await bot.container.store.for_incident(payload["data"]["essentials"]["alertId"]) == []


async def test_secret_only_alert_runs_an_autonomous_plan_in_review_and_the_card_says_why(
    teams: Teams, driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    since = len(sandbox.arm.writes)
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])  # a real alert
    status, body = await _post(driver, bot, sandbox, payload)
    assert status == 202 and body["authentication"] == "shared_secret" and body["matched"] == ["web-hung"]
    assert [(p["mode"], p["state"]) for p in body["plans"]] == [("review", "awaiting_consent")]
    assert body["reviewInstead"][0]["responsePlan"] == "web-hung"
    plan_card = await driver.wait_for(lambda m: m.card is not None and body["plans"][0]["id"] in card_text(m.card))
    incident = (await _thread_cards(driver, plan_card.conversation_id))[0]
    assert "only the webhook secret" in card_text(incident.card) and "secure webhook" in card_text(incident.card)
    assert "once a responder approves" in card_text(incident.card)
    assert sandbox.arm.writes[since:] == []
    # a responder may still approve it: review mode, as the card says (then the agent is refused on prod-rg)
    channel = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    await teams.click("alice", channel, plan_card, "approve")
    await teams.wait_card(plan_card, "credentials needed")


async def test_secret_only_alerts_may_be_refused_altogether(sandbox: Sandbox, make_bot: Callable[..., RunningBot]) -> None:
    bot = make_bot(INCIDENT_ACCEPT_SECRET_ONLY="false")
    payload = fire(sandbox.arm.alerts, "High CPU on dev-01", [_vm(sandbox, "dev-01")])
    async with sandbox.driver(bot.messages_url) as driver:
        status, body = await _post(driver, bot, sandbox, payload)
        assert status == 401 and "INCIDENT_ACCEPT_SECRET_ONLY" in body["error"]
        status, body = await _secure(driver, bot, payload, _token(sandbox))
        assert status == 202 and body["plans"][0]["mode"] == "review"  # high-cpu is a reviewed plan anyway


# -- alerts Azure Monitor cannot confirm -----------------------------------------------------------------------------


async def test_a_forged_alert_never_runs_autonomously_even_through_the_secure_webhook(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    since = len(sandbox.arm.writes)
    forged = alert_payload("Web tier unresponsive", [_vm(sandbox, "web-01")])  # Azure Monitor never fired it
    status, body = await _secure(driver, bot, forged, _token(sandbox))
    assert status == 202 and [p["mode"] for p in body["plans"]] == ["review"]
    assert "could not be confirmed" in body["reviewInstead"][0]["reason"]
    plan_card = await driver.wait_for(lambda m: m.card is not None and body["plans"][0]["id"] in card_text(m.card))
    incident = (await _thread_cards(driver, plan_card.conversation_id))[0]
    assert "could not be confirmed" in card_text(incident.card) and "forged" in card_text(incident.card)
    assert sandbox.arm.writes[since:] == []
    alert_id = forged["data"]["essentials"]["alertId"]
    assert ("GET", alert_id) in sandbox.arm.requests  # asked Azure Monitor, with the agent identity
    events = await bot.container.deps.audit.events(body["plans"][0]["id"])
    assert any(e.event == "autonomy_withheld" for e in events)


async def test_replays_of_a_forged_alert_with_new_alert_ids_do_nothing_autonomous(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    since = len(sandbox.arm.writes)
    token = _token(sandbox)
    for _ in range(3):
        forged = alert_payload("Web tier unresponsive", [_vm(sandbox, "web-01")])  # a new alertId each time
        status, body = await _secure(driver, bot, forged, token)
        assert status == 202 and [(p["mode"], p["state"]) for p in body["plans"]] == [("review", "awaiting_consent")]
    # a real alert id replayed with another target is not confirmed for that target either
    real = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-02")])
    real["data"]["essentials"]["alertTargetIDs"] = [_vm(sandbox, "web-01").id.lower()]
    status, body = await _secure(driver, bot, real, token)
    assert [p["mode"] for p in body["plans"]] == ["review"] and "web-01" in body["reviewInstead"][0]["reason"]
    assert sandbox.arm.writes[since:] == []


async def test_a_resolved_alert_delivered_again_as_fired_is_not_autonomous(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    payload = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])
    resolve(sandbox.arm.alerts, payload["data"]["essentials"]["alertId"])
    status, body = await _secure(driver, bot, payload, _token(sandbox))
    assert status == 202
    assert [p["mode"] for p in body["plans"]] == ["review"] and "resolved" in body["reviewInstead"][0]["reason"]


async def test_without_the_secure_webhook_requirement_a_confirmed_alert_acts_and_a_forged_one_does_not(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot]
) -> None:
    bot = make_bot(INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK="false")
    async with sandbox.driver(bot.messages_url) as driver:
        real = fire(sandbox.arm.alerts, "Web tier unresponsive", [_vm(sandbox, "web-01")])
        status, body = await _post(driver, bot, sandbox, real)
        assert status == 202 and body["authentication"] == "shared_secret"
        assert [p["mode"] for p in body["plans"]] == ["autonomous"]
        forged = alert_payload("Web tier unresponsive", [_vm(sandbox, "web-01")])
        status, body = await _post(driver, bot, sandbox, forged)
        assert [p["mode"] for p in body["plans"]] == ["review"] and "could not be confirmed" in body["reviewInstead"][0]["reason"]


# -- a "Resolved" nobody vouches for ---------------------------------------------------------------------------------


@pytest.mark.parametrize("genuine_through", ["secure_webhook", "url_secret"])
async def test_a_forged_resolved_with_the_url_secret_withdraws_nothing_and_the_genuine_one_still_counts(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, genuine_through: str
) -> None:
    """Whoever saw the webhook URL can post a "Resolved" naming a real, still-firing alert: it must neither expire the
    alert's waiting plan nor use up the key of the genuine notification that comes later."""
    fired = fire(sandbox.arm.alerts, "High CPU on web-02", [_vm(sandbox, "web-02")])
    alert_id = fired["data"]["essentials"]["alertId"]
    status, body = await _post(driver, bot, sandbox, fired)
    plan_id = body["plans"][0]["id"]
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card))
    forged = alert_payload("High CPU on web-02", [_vm(sandbox, "web-02")], resolved=True, alert_id=alert_id)
    status, outcome = await _post(driver, bot, sandbox, forged)
    assert status == 202 and outcome["expired"] == [] and "still reports the alert firing" in outcome["ignored"]
    assert (await _post(driver, bot, sandbox, forged))[0] == 200  # its repeat: the same delivery
    plan = await bot.container.store.get(plan_id)
    assert plan is not None and plan.state.value == "awaiting_consent"
    await bot.settled()
    assert not [m for m in await driver.bot_messages(card.conversation_id) if "resolved" in m.text]
    genuine = resolve(sandbox.arm.alerts, alert_id)  # Azure Monitor resolves the alert and sends its own notification
    if genuine_through == "secure_webhook":
        status, outcome = await _secure(driver, bot, genuine, _token(sandbox))
    else:
        status, outcome = await _post(driver, bot, sandbox, genuine)
    assert status == 202 and outcome["expired"] == [plan_id]  # not "200 duplicate"
    await driver.wait_for(lambda m: "resolved" in m.text, conversation_id=card.conversation_id)


async def test_a_resolved_for_an_alert_azure_monitor_does_not_know_changes_nothing(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    fired = alert_payload("High CPU on web-02", [_vm(sandbox, "web-02")])  # never fired in Azure Monitor
    status, body = await _post(driver, bot, sandbox, fired)
    forged = alert_payload("High CPU on web-02", [], resolved=True, alert_id=fired["data"]["essentials"]["alertId"])
    status, outcome = await _post(driver, bot, sandbox, forged)
    assert status == 202 and outcome["expired"] == [] and "knows no alert" in outcome["ignored"]
    plan = await bot.container.store.get(body["plans"][0]["id"])
    assert plan is not None and plan.state.value == "awaiting_consent"


def test_the_url_secret_alone_is_refused_unless_turned_on(sandbox: Sandbox, tmp_path: Path) -> None:
    """INCIDENT_ACCEPT_SECRET_ONLY is false by default: the secret travels in URLs that App Service logs and the
    action group's Readers see."""
    env = {k: v for k, v in sandbox.bot_environment().items() if k != "INCIDENT_ACCEPT_SECRET_ONLY"}
    assert Settings.from_env({**env, "STORE_PATH": str(tmp_path / "s.sqlite3")}).api.incident_accept_secret_only is False
