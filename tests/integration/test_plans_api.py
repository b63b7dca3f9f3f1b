"""POST /api/plans and GET /api/plans/{id}: plans from agents, with Entra app tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from sandbox import Sandbox
from sandbox.driver import TeamsDriver
from sandbox.world import App

from ..conftest import each_token_version
from .harness import RunningBot, Teams, card_text, find_action

CHANNEL = "19:sandbox-incidents@thread.tacv2"
sandbox = each_token_version()  # agents' tokens for the bot's API in v1 (the file as written) and in v2


def _token(sandbox: Sandbox, app_name: str = "sre-agent") -> str:
    app = sandbox.world.apps[app_name]
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
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
    body = _body(
        sandbox,
        title="",
        actions=[{"operation": "explode", "resourceId": "/nope"}],
        mode="autonomous",
        approvalsRequired=0,
        target={"channelId": "general"},
    )
    status, answer = await _post(driver, bot, body, _token(sandbox))
    assert status == 400
    fields = {e["field"] for e in answer["errors"]}
    assert {"title", "actions[0].operation", "actions[0].resourceId", "mode", "approvalsRequired", "target.channelId"} <= fields
    status, answer = await _post(driver, bot, "not an object", _token(sandbox))
    assert status == 400


async def test_autonomous_mode_is_refused_outside_an_incident_plan(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    status, answer = await _post(driver, bot, _body(sandbox, mode="autonomous"), _token(sandbox))
    assert status == 400 and "incident response plan" in answer["errors"][0]["message"]


@pytest.mark.parametrize("token_kind", ["missing", "garbage", "wrong_audience"])
async def test_bad_token_is_401(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, token_kind: str) -> None:
    token = {"missing": None, "garbage": "not.a.jwt", "wrong_audience": sandbox.entra.sso_token("alice", audience="api://elsewhere")}[
        token_kind
    ]
    status, _ = await _post(driver, bot, _body(sandbox), token)
    assert status == 401


async def test_app_without_the_role_is_403(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox, "unlisted-app"))
    assert status == 403 and "Plans.Submit" in answer["error"]


async def test_health_and_readiness(driver: TeamsDriver, bot: RunningBot) -> None:
    async with driver.session.get(f"{bot.url}/healthz") as r:
        assert r.status == 200
    async with driver.session.get(f"{bot.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["checks"]["store"] == "ok"


# -- callers can only tighten policy, within their own scopes (API_CALLERS_FILE) ----------------------------------

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"


def _two_agents_bot(sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]) -> tuple[RunningBot, App]:
    """A bot whose callers file lets the agent and a second agent app restart in the subscription; and that app."""
    other = _other_agent(sandbox)
    sub = f"/subscriptions/{sandbox.world.subscription_id}"
    callers = [
        {"appId": sandbox.world.agent.client_id, "name": "SRE Agent", "scopes": [sub], "operations": ["restart"], "targets": [CHANNEL]},
        {"appId": other.client_id, "name": "Other Agent", "scopes": [sub], "operations": ["restart"], "targets": [CHANNEL]},
    ]
    return make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers)), other


def _other_agent(sandbox: Sandbox) -> App:
    """A second agent app holding the role (registered in the session's world once)."""
    if "policy-second-agent" not in sandbox.world.apps:
        sandbox.world.apps["policy-second-agent"] = App(
            name="policy-second-agent",
            tenant_id=sandbox.world.home_tenant_id,
            api_roles={str(sandbox.world.bot.app_id_uri): {"Plans.Submit"}},
        )
    return sandbox.world.apps["policy-second-agent"]


def _callers_file(tmp_path: Path, callers: list[dict[str, Any]]) -> str:
    path = tmp_path / "callers.json"
    path.write_text(json.dumps({"callers": callers}))
    return str(path)


async def _get(driver: TeamsDriver, bot: RunningBot, plan_id: str, token: str) -> tuple[int, Any]:
    async with driver.session.get(f"{bot.url}/api/plans/{plan_id}", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"approvalsRequired": 1}, "approvalsRequired"),  # below the configured 2
        ({"approvers": ["alice", "carol"]}, "approvers"),  # carol is not a configured approver
        ({"expiresInMinutes": 31}, "expiresInMinutes"),  # beyond the configured 30
        ({"remindAfterMinutes": 11}, "remindAfterMinutes"),  # later than the configured 10
        ({"escalateAfterMinutes": 5}, "escalateAfterMinutes"),  # escalation is off: a caller cannot turn it on
        (
            {
                "actions": [
                    {
                        "operation": "restart",
                        "resourceId": f"/subscriptions/{OTHER_SUB}/resourceGroups/prod-rg"
                        "/providers/Microsoft.Compute/virtualMachines/web-01",
                    }
                ]
            },
            "actions[0].resourceId",
        ),  # outside ALLOWED_SCOPES
    ],
)
async def test_api_caller_cannot_loosen_the_policy_or_leave_the_allowed_scopes(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], override: dict[str, Any], field: str
) -> None:
    bot = make_bot(APPROVALS_REQUIRED="2")
    if "approvers" in override:
        override = {"approvers": [sandbox.world.user(n).object_id for n in override["approvers"]]}
    async with sandbox.driver(bot.messages_url) as driver:
        before = len(sandbox.arm.requests)
        status, answer = await _post(driver, bot, _body(sandbox, **override), _token(sandbox))
    assert status == 400 and [e["field"] for e in answer["errors"]] == [field], answer
    assert sandbox.arm.requests[before:] == []
    assert not [e for e in await bot.container.store.events() if e.event == "plan_proposed"]


async def test_api_caller_may_tighten_and_the_card_names_the_verified_app(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    alice = sandbox.world.user("alice").object_id
    body = _body(sandbox, approvers=[alice], expiresInMinutes=10, requestedBy={"name": "Alice Example (CISO)"})
    status, answer = await _post(driver, bot, body, _token(sandbox))
    assert status == 202, answer
    plan = await bot.container.store.get(answer["id"])
    assert plan is not None and plan.policy.approvers == {alice} and plan.policy.approver_group is None
    assert plan.expires_at - plan.created_at == timedelta(minutes=10)
    card = await driver.wait_for(lambda m: m.card is not None and answer["id"] in card_text(m.card))
    text = card_text(card.card)
    assert f"Requested by: SRE Agent (app {sandbox.world.agent.client_id})" in text and "CISO" not in text


async def test_delegated_user_token_with_the_role_is_refused(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    token = sandbox.entra.sso_token("alice", scopes="access_as_user", extra={"roles": ["Plans.Submit"]})
    status, answer = await _post(driver, bot, _body(sandbox), token)
    assert status == 403 and "application tokens" in answer["error"]


async def test_get_answers_only_the_app_that_submitted_the_plan(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    bot, other = _two_agents_bot(sandbox, tmp_path, make_bot)
    async with sandbox.driver(bot.messages_url) as driver:
        status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox))
        assert status == 202
        assert (await _get(driver, bot, answer["id"], _token(sandbox)))[0] == 200
        assert await _get(driver, bot, answer["id"], _token(sandbox, other.name)) == (404, {"error": "no such plan"})
        assert await _get(driver, bot, "p-000000000000", _token(sandbox, other.name)) == (404, {"error": "no such plan"})


async def test_unregistered_app_and_missing_callers_file_are_403(sandbox: Sandbox, make_bot: Callable[..., RunningBot]) -> None:
    other = _other_agent(sandbox)
    bot = make_bot()
    async with sandbox.driver(bot.messages_url) as driver:
        status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox, other.name))
        assert status == 403 and other.client_id in answer["error"] and "API_CALLERS_FILE" in answer["error"]
    closed = make_bot(API_CALLERS_FILE="")
    async with sandbox.driver(closed.messages_url) as driver:
        status, answer = await _post(driver, closed, _body(sandbox), _token(sandbox))
        assert status == 403 and "API_CALLERS_FILE" in answer["error"]


async def test_caller_is_held_to_its_own_scopes_and_operations(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    dev_rg = f"/subscriptions/{sandbox.world.subscription_id}/resourceGroups/dev-rg"
    callers = [
        {"appId": sandbox.world.agent.client_id, "name": "SRE Agent", "scopes": [dev_rg], "operations": ["restart"], "targets": [CHANNEL]}
    ]
    bot = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers))
    web01 = next(v for v in sandbox.world.vms if v.name == "web-01")
    async with sandbox.driver(bot.messages_url) as driver:
        status, answer = await _post(
            driver, bot, _body(sandbox, actions=[{"operation": "restart", "resourceId": web01.id}]), _token(sandbox)
        )
        assert status == 400 and answer["errors"][0]["field"] == "actions[0].resourceId"
        assert "outside the scopes SRE Agent may propose for" in answer["errors"][0]["message"]
        status, answer = await _post(
            driver,
            bot,
            _body(sandbox, actions=[{"operation": "deallocate", "resourceId": _body(sandbox)["actions"][0]["resourceId"]}]),
            _token(sandbox),
        )
        # a well-formed action the caller's entry does not allow: 403 naming the field, saying what it may propose
        assert status == 403 and answer["errors"][0]["field"] == "actions[0].operation"
        assert "may not propose Microsoft.Compute/virtualMachines/deallocate" in answer["errors"][0]["message"]


# -- where a caller may post (API_CALLERS_FILE targets) -------------------------------------------------------------


async def test_a_caller_may_post_only_into_its_targets(sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]) -> None:
    """Naming someone's personal chat or an unrelated group chat is 403 naming `target`; nothing is proposed, and
    nothing is posted there (not even a link)."""
    sub = f"/subscriptions/{sandbox.world.subscription_id}"
    callers = [
        {"appId": sandbox.world.agent.client_id, "name": "SRE Agent", "scopes": [sub], "operations": ["restart"], "targets": [CHANNEL]}
    ]
    bot = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers), APPROVALS_CHANNEL=sandbox.world.approvals_channel.channel_id)
    alice_chat = TeamsDriver.personal(sandbox.world.user("alice")).id
    unrelated = TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"unrelated-{tmp_path.name[-8:]}").id
    async with sandbox.driver(bot.messages_url) as driver:
        earlier = {m.id for m in await driver.bot_messages()}
        for target in ({"conversationId": alice_chat}, {"conversationId": unrelated}, {"channelId": "19:elsewhere@thread.tacv2"}):
            status, answer = await _post(driver, bot, _body(sandbox, target=target), _token(sandbox))
            assert status == 403 and [e["field"] for e in answer["errors"]] == ["target"], answer
            assert "targets" in answer["errors"][0]["message"]
        status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox))  # its channel: accepted
        assert status == 202, answer
        await bot.settled()
        posted = [m for m in await driver.bot_messages() if m.id not in earlier]
    assert {m.conversation_id.split(";")[0] for m in posted} == {CHANNEL}
    assert len([e for e in await bot.container.store.events() if e.event == "plan_proposed"]) == 1


async def test_a_caller_without_targets_may_post_only_into_the_approvals_channel(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    sub = f"/subscriptions/{sandbox.world.subscription_id}"
    callers = [{"appId": sandbox.world.agent.client_id, "name": "SRE Agent", "scopes": [sub], "operations": ["restart"]}]
    approvals = sandbox.world.approvals_channel.channel_id
    bot = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers), APPROVALS_CHANNEL=approvals)
    async with sandbox.driver(bot.messages_url) as driver:
        status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox))
        assert status == 403 and answer["errors"][0]["field"] == "target" and "APPROVALS_CHANNEL" in answer["errors"][0]["message"]
        target = {"channelId": approvals, "serviceUrl": sandbox.connector.base_url}
        status, answer = await _post(driver, bot, _body(sandbox, target=target), _token(sandbox))
        assert status == 202, answer
    closed = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers))  # no approvals channel: nowhere at all
    async with sandbox.driver(closed.messages_url) as driver:
        status, answer = await _post(driver, closed, _body(sandbox, target=target), _token(sandbox))
        assert status == 403 and answer["errors"][0]["field"] == "target"


# -- separation of duties: the people behind an agent (API_CALLERS_FILE excludedApprovers) -------------------------


async def test_the_people_behind_an_agent_may_not_approve_its_plans(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    """alice drives the SRE Agent and is also a configured approver: she may not approve what the agent proposes (one
    person with two roles would otherwise meet the policy alone); bob may."""
    sub = f"/subscriptions/{sandbox.world.subscription_id}"
    alice = sandbox.world.user("alice").object_id
    callers = [
        {
            "appId": sandbox.world.agent.client_id,
            "name": "SRE Agent",
            "scopes": [sub],
            "operations": ["restart"],
            "targets": [CHANNEL],
            "excludedApprovers": [alice],
        }
    ]
    bot = make_bot(API_CALLERS_FILE=_callers_file(tmp_path, callers))
    channel = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    async with sandbox.driver(bot.messages_url) as driver:
        teams = Teams(driver, sandbox)
        status, answer = await _post(driver, bot, _body(sandbox), _token(sandbox))
        assert status == 202, answer
        card = await driver.wait_for(lambda m: m.card is not None and answer["id"] in card_text(m.card))
        approve = find_action(await teams.view("bob", channel, card), "approve")
        assert approve is not None and find_action(await teams.view("alice", channel, card), "approve") is None
        refused = await teams.click("alice", channel, card, "approve", approve)
        assert "not one of" in str(refused.value)
        assert "Awaiting approval" in card_text(await teams.card_now(card))
        await teams.click("bob", channel, card, "approve", approve)
        await teams.wait_card(card, "Succeeded")
