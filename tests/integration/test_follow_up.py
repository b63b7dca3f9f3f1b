"""Nobody forgets a plan (issue 26), through the whole bot on the sandbox, on both SDK adapters (BOT_SDK).

With REMIND_AFTER_MINUTES=0.05 (3 seconds) the approvers' 1:1 chats receive a reminder with the link to the card; with
escalation on, the escalation approver receives the note and can approve; the walk-through of the README leaves the
approval histograms on /metrics. Times are the bot's real clock: the tests wait for what the bot sends, never a fixed
while.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, TeamsDriver
from sandbox.views import plan_id_of

from .harness import RunningBot, Teams, card_text, eventually, find_action
from .test_operability import recording_spans

SOON = "0.05"  # minutes: three seconds
WAIT = 30.0  # seconds a test waits for what is due in three (the sweep runs every 0.1 s; the machine may be busy)


@pytest.fixture(autouse=True)
def nobody_installed(sandbox: Sandbox) -> Iterator[None]:
    """Each test starts with the app installed for nobody (the sandbox is shared by the session)."""
    sandbox.connector.installed.clear()
    yield
    sandbox.connector.installed.clear()


@contextlib.asynccontextmanager
async def running(sandbox: Sandbox, make_bot: Callable[..., RunningBot], **settings: str) -> AsyncIterator[tuple[RunningBot, Teams]]:
    """A bot started with `settings`, and Teams in front of it."""
    bot = make_bot(**settings)
    async with sandbox.driver(bot.messages_url) as d:
        yield bot, Teams(d, sandbox)


def personal(teams: Teams, who: str) -> str:
    return TeamsDriver.personal(teams.user(who)).id


def linked(message: BotMessage, card: BotMessage) -> bool:
    """The message links to the card (Teams' deep link to the card's message)."""
    return f"/{card.id}?" in message.text


def plan_of(card: BotMessage) -> str:
    plan_id = plan_id_of(card)
    assert plan_id is not None
    return plan_id


async def audit_count(bot: RunningBot, plan_id: str, event: str) -> int:
    events = await bot.container.store.events(plan_id)
    return len([e for e in events if e.event == event])


async def test_approvers_are_reminded_in_their_1_1_chats_with_the_link_and_the_card_says_so(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], chat: Conversation
) -> None:
    """alice's 1:1 chat is known to the bot (she installed the app); bob's is created by the bot where Teams allows it
    (the app is installed for him); carol, who asked, is not reminded."""
    async with running(sandbox, make_bot, REMIND_AFTER_MINUTES=SOON) as (bot, at):
        await _reminded(sandbox, bot, at, chat)


async def _reminded(sandbox: Sandbox, bot: RunningBot, at: Teams, chat: Conversation) -> None:
    await at.driver.install(at.user("alice"))
    sandbox.connector.install(at.user("bob"))
    card = await at.ask("carol", "restart vm dev-01", chat)
    for who in ("alice", "bob"):
        note = await at.driver.wait_for(lambda m: "Reminder" in m.text and linked(m, card), conversation_id=personal(at, who), timeout=WAIT)
        assert "Restart VM dev-01" in note.text and "Carol Requester" in note.text and "min left" in note.text
    shown = card_text(await at.wait_card(card, "Reminded", timeout=WAIT))
    assert re.search(r"Waiting: \d+ s", shown)
    await bot.settled()
    assert await audit_count(bot, plan_of(card), "reminded") == 1
    assert [m for m in await at.driver.bot_messages(personal(at, "carol")) if linked(m, card)] == []
    for who in ("alice", "bob"):  # one reminder each, however many sweeps ran since
        assert len([m for m in await at.driver.bot_messages(personal(at, who)) if linked(m, card)]) == 1


async def test_a_plan_decided_before_its_reminder_reminds_nobody(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], chat: Conversation
) -> None:
    async with running(sandbox, make_bot, REMIND_AFTER_MINUTES=SOON) as (bot, at):
        await at.driver.install(at.user("alice"))
        card = await at.ask("carol", "restart vm dev-01", chat)
        await at.click("alice", chat, card, "approve")
        await at.wait_reply(card, "Succeeded", timeout=WAIT)
        await bot.settled()
        plan = await bot.container.store.get(plan_of(card))
        assert plan is not None and plan.follow_up.reminded_at is None
        assert [m for m in await at.driver.bot_messages(personal(at, "alice")) if linked(m, card)] == []


@pytest.fixture
def escalation(sandbox: Sandbox) -> dict[str, str]:
    """alice approves; after three seconds the plan escalates to bob, and the approvals channel is told."""
    world = sandbox.world
    return {
        "DEFAULT_APPROVERS": world.user("alice").object_id,
        "ESCALATE_AFTER_MINUTES": SOON,
        "ESCALATION_APPROVERS": world.user("bob").object_id,
        "ESCALATION_CHANNEL": world.approvals_channel.channel_id,
    }


async def test_the_escalation_approver_is_told_privately_and_can_approve(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], escalation: dict[str, str], chat: Conversation
) -> None:
    async with running(sandbox, make_bot, **escalation) as (bot, teams):
        d = teams.driver
        await d.install(teams.user("alice"))
        sandbox.connector.install(teams.user("bob"))
        card = await teams.ask("carol", "restart vm dev-01", chat)
        assert find_action(await teams.view("bob", chat, card), "approve") is None  # not an approver yet

        note = await d.wait_for(
            lambda m: "Escalated to you" in m.text and linked(m, card), conversation_id=personal(teams, "bob"), timeout=WAIT
        )
        assert "You are now one of its approvers" in note.text
        channel = sandbox.world.approvals_channel.channel_id
        notice = await d.wait_for(lambda m: "was escalated to" in m.text and m.conversation_id.startswith(channel), timeout=WAIT)
        assert linked(notice, card) and "1 escalation approver" in notice.text
        await teams.wait_card(card, "Escalated to", timeout=WAIT)

        result = await teams.click("bob", chat, card, "approve")  # his own view now has the buttons
        assert result.status == 200
        await teams.wait_reply(card, "Succeeded", timeout=WAIT)
        await bot.settled()
        alice_notes = [m for m in await d.bot_messages(personal(teams, "alice")) if linked(m, card)]
        assert alice_notes == []  # the first approvers are not messaged again (and alice's reminder is 10 minutes away)
    assert await audit_count(bot, plan_of(card), "escalated") == 1
    [escalated] = [e for e in await bot.container.store.events(plan_of(card)) if e.event == "escalated"]
    assert escalated.detail["to"] == sandbox.world.user("bob").object_id


async def _metrics(teams: Teams, bot: RunningBot) -> dict[str, float]:
    assert bot.container.metrics_url is not None
    async with teams.driver.session.get(bot.container.metrics_url) as r:
        assert r.status == 200
        text = await r.text()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+(?:\{[^}]*\})?) ([\d.e+-]+)$", line)
        if m:
            values[m[1]] = float(m[2])
    return values


async def test_metrics_show_the_approval_histograms_after_the_readme_walk_through(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], chat: Conversation
) -> None:
    """The README's Quick start: dev-01 approved and restarted; web-01 approved, refused, alice lends her rights."""
    async with running(sandbox, make_bot, METRICS_PORT="0") as (bot, teams):
        before = await _metrics(teams, bot)
        assert before['sre_consent_plans_waiting{state="awaiting_consent"}'] == 0  # shown before anything waits
        dev = await teams.ask("carol", "restart vm dev-01", chat)
        waiting = await _metrics(teams, bot)
        assert waiting['sre_consent_plans_waiting{state="awaiting_consent"}'] == 1
        await teams.click("alice", chat, dev, "approve")
        await teams.wait_reply(dev, "Succeeded", timeout=WAIT)
        other = TeamsDriver.group_chat(chat.tenant_id, chat.id.split(":")[1].split("@")[0] + "-web")  # a card per chat
        web = await teams.ask("carol", "restart vm web-01", other)
        await teams.click("alice", other, web, "approve")
        await teams.wait_card(web, "credentials needed", timeout=WAIT)
        data = find_action(await teams.view("alice", other, web), "grant")
        await teams.click("alice", other, web, "grant", data, token=sandbox.entra.sso_token("alice"), connection_name="sso")
        await teams.wait_reply(web, "Succeeded", timeout=WAIT)
        await bot.settled()
        after = await _metrics(teams, bot)
    chat_source = '{source="chat"}'
    assert after[f"sre_consent_time_to_decision_seconds_count{chat_source}"] == 2  # two consents
    assert after[f"sre_consent_time_to_end_seconds_count{chat_source}"] == 2  # two plans ended
    assert after['sre_consent_time_to_end_seconds_bucket{le="+Inf",source="chat"}'] == 2
    assert after['sre_consent_decisions_total{outcome="approved"}'] == 2
    assert after['sre_consent_decisions_total{outcome="credentials_lent"}'] == 1
    assert after['sre_consent_plans_waiting{state="awaiting_consent"}'] == 0
    assert after['sre_consent_plans_waiting{state="awaiting_credentials"}'] == 0
    assert after["sre_consent_reminders_total"] == 0 and after["sre_consent_escalations_total"] == 0


async def test_each_decision_and_each_execution_is_a_span_with_the_plan_and_who_acted(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], chat: Conversation
) -> None:
    exporter = recording_spans()
    async with running(sandbox, make_bot) as (bot, teams):
        card = await teams.ask("carol", "restart vm dev-01", chat)
        await teams.click("alice", chat, card, "approve")
        await teams.wait_reply(card, "Succeeded", timeout=WAIT)
        await bot.settled()

    def spans() -> list[Any]:
        return [s for s in exporter.get_finished_spans() if (s.attributes or {}).get("plan.id") == plan_of(card)]

    async def run_span_ended() -> bool:  # the run's span ends just after its last message is written
        return any(s.name.startswith("run ") for s in spans())

    await eventually(run_span_ended, "the execution's span ends")
    [decision] = [s for s in spans() if s.name == "plan approve"]
    alice = sandbox.world.user("alice").object_id
    assert dict(decision.attributes or {}) == {
        "plan.id": plan_of(card),
        "plan.source": "chat",
        "plan.outcome": "approved",
        "plan.decision": "approve",
        "user.id": alice,
    }
    assert decision.parent is not None  # inside the request that carried the click
    [execution] = [s for s in spans() if s.name.startswith("run ")]
    attributes = dict(execution.attributes or {})
    assert attributes["plan.acting_identity"] == "agent" and attributes["plan.outcome"] == "succeeded"
    assert attributes["plan.source"] == "chat"


async def test_an_agent_may_ask_for_earlier_reminders_and_escalation_never_later(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot], escalation: dict[str, str]
) -> None:
    from .test_plans_api import _body, _post, _token

    async with running(sandbox, make_bot, **{**escalation, "ESCALATE_AFTER_MINUTES": "60"}) as (bot, teams):
        status, answer = await _post(teams.driver, bot, _body(sandbox, remindAfterMinutes=2, escalateAfterMinutes=5), _token(sandbox))
        assert status == 202, answer
        plan = await bot.container.store.get(answer["id"])
        assert plan is not None and plan.follow_up.remind_after == timedelta(minutes=2)
        assert plan.follow_up.escalate_after == timedelta(minutes=5)
        status, answer = await _post(teams.driver, bot, _body(sandbox, escalateAfterMinutes=61), _token(sandbox))
    assert status == 400 and answer["errors"] == [
        {"field": "escalateAfterMinutes", "message": "more than 0 and at most 60 minutes (the configured time)"}
    ]
