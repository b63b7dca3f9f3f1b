"""Every refusal is explained to the person who clicked, audited, and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.store.sqlite import SqliteStore
from bot.domain.messages import PLAN_UNAVAILABLE
from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.views import plan_id_of

from .harness import ManualClock, RunningBot, Teams, card_text, find_action


async def _audit(bot: RunningBot, event: str) -> list[dict[str, str]]:
    events = await bot.container.store.events()
    return [e.detail for e in events if e.event == event]


@pytest.mark.parametrize(
    ("who", "expected"),
    # mallory (another tenant, in a home-tenant chat) is judged by her own tenant, before any plan is looked at
    [("carol", "someone else has to approve"), ("mallory", "only serves people of its own organisation")],
)
async def test_requester_and_outsider_are_refused(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot, who: str, expected: str
) -> None:
    before = len(sandbox.arm.writes)
    card = await teams.ask("carol", "restart vm dev-01", chat)
    data = find_action(await teams.view("alice", chat, card), "approve")  # the real button, replayed by someone else
    result = await teams.click(who, chat, card, "approve", data)
    assert result.status == 200 and result.type == "application/vnd.microsoft.activity.message"
    assert expected in result.value
    assert "Awaiting approval" in card_text(await teams.card_now(card))  # unchanged for everyone else
    event = "approval_refused" if who == "carol" else "invoke_refused"
    assert any(d.get("code") for d in await _audit(bot, event))
    await bot.settled()
    assert len(sandbox.arm.writes) == before


async def test_other_tenant_in_its_own_chat_is_refused(teams: Teams, driver: TeamsDriver, sandbox: Sandbox, bot: RunningBot) -> None:
    mallory = sandbox.world.user("mallory")
    await driver.say(mallory, "restart vm dev-01", TeamsDriver.personal(mallory))
    await driver.wait_for(lambda m: "own organisation" in m.text)
    assert await _audit(bot, "command_refused")


async def test_tampered_hash_is_refused_with_an_invoke_error(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot) -> None:
    before = len(sandbox.arm.writes)
    card = await teams.ask("carol", "restart vm dev-01", chat)
    data = find_action(await teams.view("alice", chat, card), "approve")
    assert data is not None
    result = await teams.click("alice", chat, card, "approve", {**data, "planHash": "0" * 32})
    assert (result.status, result.status_code, result.type) == (200, 400, "application/vnd.microsoft.error")
    assert "does not match" in result.value["message"]
    assert [d for d in await _audit(bot, "approval_refused") if d["code"] == "stale_card"]
    assert len(sandbox.arm.writes) == before


@pytest.mark.parametrize(
    "value",
    [
        {"action": {"type": "Action.Submit", "verb": "approve", "data": {}}},
        {"action": {"type": "Action.Execute", "verb": "launch-missiles", "data": {"planId": "p-1"}}},
        {"action": {"type": "Action.Execute", "verb": "approve", "data": "not-an-object"}},
        {"action": {"type": "Action.Execute", "verb": "approve", "data": {"planId": 42}}},
        {"nothing": True},
    ],
)
async def test_malformed_invoke_data_gets_a_400_invoke_error(
    teams: Teams, driver: TeamsDriver, chat: Conversation, value: dict[str, object]
) -> None:
    activity = driver.invoke(teams.user("alice"), chat, chat.id, "123", "approve", {})
    activity["value"] = value
    result = await driver.post(activity)
    assert (result.status, result.status_code, result.type) == (200, 400, "application/vnd.microsoft.error")


async def test_unknown_plan_is_refused(teams: Teams, driver: TeamsDriver, chat: Conversation) -> None:
    activity = driver.invoke(teams.user("alice"), chat, chat.id, "123", "approve", {"planId": "p-nope", "planHash": "x"})
    result = await driver.post(activity)
    assert result.type == "application/vnd.microsoft.activity.message" and "no plan" in result.value


async def test_malformed_activities_get_4xx(bot: RunningBot, driver: TeamsDriver) -> None:
    s = driver.session
    async with s.post(bot.messages_url, data=b"{not json", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    async with s.post(bot.messages_url, data=b"[]", headers={"Content-Type": "application/json"}) as r:
        assert r.status == 400
    async with s.post(bot.messages_url, data=b"hello", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415


async def test_expired_plan_is_refused_and_swept(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    clock = ManualClock()
    bot: RunningBot = make_bot(clock)  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        before = len(sandbox.arm.writes)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(await teams.view("alice", chat, card), "approve")
        clock.advance(minutes=31)
        result = await teams.click("alice", chat, card, "approve", data)
        assert "expired" in result.value
        await teams.wait_card(card, "Expired")  # the sweeper updated the card for everyone
        await teams.wait_reply(card, "Expired")
        assert len(sandbox.arm.writes) == before


async def test_restart_between_card_and_click_keeps_the_plan_actionable(
    make_bot: object, sandbox: Sandbox, chat: Conversation, store_path: Path, teams: Teams
) -> None:
    card = await teams.ask_then_stop(make_bot(), "carol", "restart vm dev-01", chat)  # type: ignore[operator]
    second: RunningBot = make_bot()  # type: ignore[operator]
    before = sandbox.arm.writes_to("dev-01")
    async with sandbox.driver(second.messages_url) as d:
        restarted = Teams(d, sandbox)
        await restarted.click("alice", chat, card, "approve")
        await restarted.wait_card(card, "Succeeded")
    assert sandbox.arm.writes_to("dev-01") == before + 1


async def test_plan_found_executing_at_start_up_is_interrupted_not_rerun(
    make_bot: object, sandbox: Sandbox, chat: Conversation, store_path: Path, teams: Teams
) -> None:
    card = await teams.ask_then_stop(make_bot(), "carol", "restart vm dev-01", chat)  # type: ignore[operator]
    # the process died while executing: simulate what it left behind in the store
    store = SqliteStore(store_path)
    plans = await store.in_states({PlanState.AWAITING_CONSENT})
    plan = plans[0]
    async with store.unit_of_work() as uow:
        uow.save(replace(plan, state=PlanState.EXECUTING), plan.version)
    store.close()
    before = sandbox.arm.writes_to("dev-01")
    second: RunningBot = make_bot()  # type: ignore[operator]
    async with sandbox.driver(second.messages_url) as d:
        restarted = Teams(d, sandbox)
        await restarted.wait_card(card, "Interrupted")
        await restarted.wait_reply(card, "Interrupted")
    assert sandbox.arm.writes_to("dev-01") == before
    assert [e for e in await second.container.store.events(plan.id) if e.event == "plan_interrupted"]


async def test_internal_errors_are_explained_not_dumped(teams: Teams, driver: TeamsDriver, chat: Conversation, bot: RunningBot) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    data = find_action(await teams.view("alice", chat, card), "approve")
    bot.container.store.close()  # the store disappears under the bot
    result = await teams.click("alice", chat, card, "approve", data)
    assert (result.status, result.status_code) == (200, 500) and "nothing was changed" in result.value["message"]
    assert "Traceback" not in str(result.body)
    await driver.say(teams.user("alice"), "pending", chat)
    reply = await driver.wait_for(lambda m: "went wrong" in m.text, conversation_id=chat.id)
    assert "Traceback" not in reply.text and "sqlite" not in reply.text.lower()


async def test_a_click_sent_from_another_conversation_is_refused_for_every_verb(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot
) -> None:
    """A click carries the plan's id and hash, which anyone who saw the card can copy: sent from an unrelated chat,
    Approve, Deny, Use my credentials and Cancel change nothing, and answer like a plan that does not exist."""
    elsewhere = TeamsDriver.group_chat(sandbox.world.home_tenant_id, "elsewhere-" + chat.id[-12:-8])
    alice = teams.user("alice")

    async def from_elsewhere(card: Any, verb: str, where: Conversation = chat, **kw: Any) -> None:
        data = find_action(await teams.view("alice", where, card), verb)
        assert data is not None, verb
        answer = await teams.driver.post(teams.driver.invoke(alice, elsewhere, elsewhere.id, card.id, verb, data, **kw))
        assert answer.type == "application/vnd.microsoft.activity.message" and answer.value == PLAN_UNAVAILABLE, (verb, answer.body)

    consent = await teams.ask("carol", "restart vm dev-01", chat)
    for verb in ("approve", "deny"):
        await from_elsewhere(consent, verb)
    assert "Awaiting approval" in card_text(await teams.card_now(consent))
    other = TeamsDriver.group_chat(sandbox.world.home_tenant_id, "prod-" + chat.id[-12:-8])
    credentials = await teams.ask("carol", "restart vm web-01", other)
    await teams.click("alice", other, credentials, "approve")
    await teams.wait_card(credentials, "credentials needed")
    await from_elsewhere(credentials, "grant", other, token=sandbox.entra.sso_token("alice"), connection_name="sso")
    await from_elsewhere(credentials, "cancel", other)
    await bot.settled()
    assert "credentials needed" in card_text(await teams.card_now(credentials))
    plans = (plan_id_of(consent), plan_id_of(credentials))
    refused = [e for e in await bot.container.store.events() if e.event == "invoke_refused" and e.plan_id in plans]
    assert len(refused) == 4


async def test_an_approver_removed_from_the_configuration_loses_the_right_on_waiting_plans(
    make_bot: Any, sandbox: Sandbox, chat: Conversation, teams: Teams
) -> None:
    """The plan was proposed while alice was an approver; the bot now runs with bob alone (DEFAULT_APPROVERS changed and
    the bot restarted): the list copied into the plan no longer lets alice decide it."""
    card = await teams.ask_then_stop(make_bot(), "carol", "restart vm dev-01", chat)
    bob = sandbox.world.user("bob").object_id
    second: RunningBot = make_bot(DEFAULT_APPROVERS=bob)
    async with sandbox.driver(second.messages_url) as d:
        now = Teams(d, sandbox)
        approve = find_action(await now.view("bob", chat, card), "approve")
        assert approve is not None and find_action(await now.view("alice", chat, card), "approve") is None
        refused = await now.click("alice", chat, card, "approve", approve)
        assert "not one of" in str(refused.value) and "Awaiting approval" in card_text(await now.card_now(card))
        await now.click("bob", chat, card, "approve", approve)
        await now.wait_card(card, "Succeeded")
