"""POST /api/plans and GET /api/plans/{id}: plans from agents, with Entra app tokens."""

from __future__ import annotations

from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from ..conftest import each_token_version
from .harness import RunningBot, Teams, card_text

CHANNEL = "19:sandbox-incidents@thread.tacv2"
sandbox = each_token_version()  # agents' tokens for the bot's API in v1 (the file as written) and in v2


def _token(sandbox: Sandbox, app_name: str = "sre-agent") -> str:
    app = sandbox.world.apps[app_name]
    cred = ClientSecretCredential(sandbox.world.home_tenant_id, app.client_id, app.secret,
                                  authority=sandbox.entra.base_url, disable_instance_discovery=True)
    return cred.get_token(f"{sandbox.world.bot.app_id_uri}/.default").token


def _body(sandbox: Sandbox, **overrides: Any) -> dict[str, Any]:
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    body: dict[str, Any] = {
        "title": "Restart dev-01",
        "rationale": "Memory leak: RSS above 95% for 20 minutes",
        "actions": [{"operation": "restart", "resourceId": vm.id}],
        "requestedBy": {"name": "SRE Agent"},
        "target": {"channelId": CHANNEL, "serviceUrl": sandbox.connector.base_url},
    }
    body.update(overrides)
    return body


async def _post(driver: TeamsDriver, bot: RunningBot, body: Any, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with driver.session.post(f"{bot.url}/api/plans", json=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_agent_plan_is_accepted_posted_in_a_new_channel_thread_and_readable(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, teams: Teams
) -> None:
    token = _token(sandbox)
    status, body = await _post(driver, bot, _body(sandbox), token)
    assert status == 202 and body["state"] == "awaiting_consent" and body["url"] == f"/api/plans/{body['id']}"
    card = await driver.wait_for(lambda m: m.card is not None and body["id"] in card_text(m.card))
    assert card.conversation_id.startswith(CHANNEL + ";messageid=")
    assert "Memory leak" in card_text(card.card)
    async with driver.session.get(f"{bot.url}{body['url']}", headers={"Authorization": f"Bearer {token}"}) as r:
        summary = await r.json()
    assert r.status == 200 and summary["state"] == "awaiting_consent" and summary["actions"][0]["operation"] == "restart"
    conversation = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    await teams.click("alice", conversation, card, "approve")
    await teams.wait_card(card, "Succeeded")


async def test_bad_body_lists_every_field_error(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    body = _body(sandbox, title="", actions=[{"operation": "explode", "resourceId": "/nope"}], mode="autonomous",
                 approvalsRequired=0, target={"channelId": "general"})
    status, answer = await _post(driver, bot, body, _token(sandbox))
    assert status == 400
    fields = {e["field"] for e in answer["errors"]}
    assert {"title", "actions[0].operation", "actions[0].resourceId", "mode", "approvalsRequired", "target.channelId"} <= fields
    status, answer = await _post(driver, bot, "not an object", _token(sandbox))
    assert status == 400


async def test_autonomous_mode_is_refused_outside_an_incident_plan(driver: TeamsDriver, bot: RunningBot,
                                                                   sandbox: Sandbox) -> None:
    status, answer = await _post(driver, bot, _body(sandbox, mode="autonomous"), _token(sandbox))
    assert status == 400 and "incident response plan" in answer["errors"][0]["message"]


@pytest.mark.parametrize("token_kind", ["missing", "garbage", "wrong_audience"])
async def test_bad_token_is_401(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, token_kind: str) -> None:
    token = {"missing": None, "garbage": "not.a.jwt",
             "wrong_audience": sandbox.entra.sso_token("alice", audience="api://elsewhere")}[token_kind]
    status, _ = await _post(driver, bot, _body(sandbox), token)
    assert status == 401


async def test_app_without_the_role_is_403(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox, "unlisted-app"))
    assert status == 403 and "Plans.Submit" in answer["error"]


async def test_health_and_readiness(driver: TeamsDriver, bot: RunningBot) -> None:
    async with driver.session.get(f"{bot.url}/healthz") as r:
        assert r.status == 200
    async with driver.session.get(f"{bot.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["checks"]["store"] is True
