"""Nothing is lost: with Teams throttling, the store failing mid-transition, a crash before delivery, or a restart
while Teams is down, every transition is whole and every message reaches its thread, once and in order."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from bot.adapters.store.sqlite import SqliteStore
from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.monitor import fire, resolve

from .harness import RunningBot, Teams, card_text, eventually
from .test_incidents import _post, _vm


async def _plan_in(bot: RunningBot, conversation: Conversation) -> Any:
    plans = await bot.container.store.in_states(set(PlanState))
    return next(p for p in plans if p.thread and p.thread.conversation_id == conversation.id)


async def test_with_every_third_write_throttled_every_card_reply_and_answer_arrives_in_order(
    sandbox: Sandbox, make_bot: Any, chat: Conversation
) -> None:
    bot: RunningBot = make_bot()
    sandbox.connector.throttle_writes(3)  # 429 (Retry-After: 1) on every third write, for the whole scenario
    try:
        async with sandbox.driver(bot.messages_url) as d:
            teams = Teams(d, sandbox)
            carol = sandbox.world.user("carol")
            helped = await d.say(carol, "help", chat)
            card = await teams.ask("carol", "restart vm dev-01", chat)
            clicked = await teams.click("alice", chat, card, "approve")
            assert clicked.type == "application/vnd.microsoft.card.adaptive"  # the clicker's answer stays in the turn
            await teams.wait_card(card, "Succeeded", timeout=30)
            result = await teams.wait_reply(card, "Succeeded", timeout=30)
            await bot.settled(timeout=60)
            shown = await d.bot_messages(chat.id)
            writes = sandbox.connector.writes_seen
    finally:
        sandbox.connector.throttle_writes(0)
    assert writes >= 3  # at least one write was answered 429 (how many writes: card updates coalesce while one waits)
    answers = [m for m in shown if m.reply_to_id == helped["id"]]
    assert len(answers) == 1 and "restart vm" in answers[0].text  # the person who typed `help` got its answer
    cards = [m for m in shown if m.card is not None]
    assert len(cards) == 1 and "Succeeded" in card_text(cards[0].card)  # one card, in its final state
    # in order per thread: the answer, the card, then the result (Teams numbers activities as it receives them)
    assert int(answers[0].id) < int(card.id) < int(result.id)
    assert [m.id for m in shown if "Succeeded" in m.text and m.card is None] == [result.id]  # sent once


async def test_a_store_failure_inside_a_transition_leaves_nothing_half_written(
    bot: RunningBot, teams: Teams, chat: Conversation, store_path: Path, sandbox: Sandbox
) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    await bot.settled()
    before = await _plan_in(bot, chat)
    events = await bot.container.store.events(before.id)
    writes = sandbox.arm.writes_to("dev-01")
    # the audit insert of the approval fails: the plan's compare-and-set ran first in the same transaction
    with sqlite3.connect(store_path) as db:
        db.execute(
            "CREATE TRIGGER inject_failure BEFORE INSERT ON audit WHEN NEW.event = 'approval_given' "
            "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    try:
        refused = await teams.click("alice", chat, card, "approve")
    finally:
        with sqlite3.connect(store_path) as db:
            db.execute("DROP TRIGGER inject_failure")
    assert refused.status_code == 500 and "nothing was changed" in refused.value["message"]
    await bot.settled()
    after = await bot.container.store.get(before.id)
    assert after == before  # same version, state and approvals: the approval is not stored without its audit
    assert await bot.container.store.events(before.id) == events
    assert bot.container.store.outbox_depth() == 0 and sandbox.arm.writes_to("dev-01") == writes
    assert "Awaiting approval" in card_text(await teams.card_now(card))
    # what the person was told is true: trying again works
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "Succeeded")


async def test_messages_committed_before_a_crash_are_sent_after_restart_exactly_once(
    sandbox: Sandbox, make_bot: Any, chat: Conversation
) -> None:
    first: RunningBot = make_bot()
    first.thread.call(first.container.outbox.stop)  # this process dies after committing, before its worker sends
    carol = sandbox.world.user("carol")
    async with sandbox.driver(first.messages_url) as d:
        helped = await d.say(carol, "help", chat)
        asked = await d.say(carol, "restart vm dev-01", chat)
        assert first.container.store.outbox_depth() == 2  # the answer and the card: committed, not sent
        assert await d.bot_messages(chat.id) == []
    first.stop()
    second: RunningBot = make_bot()
    async with sandbox.driver(second.messages_url) as d:
        card = await d.wait_for(lambda m: m.card is not None, conversation_id=chat.id)
        await second.settled()
        shown = await d.bot_messages(chat.id)
    assert [m.reply_to_id for m in shown] == [helped["id"], asked["id"]]  # each once, in order, answering its command
    assert card.reply_to_id == asked["id"] and "Awaiting approval" in card_text(card.card)
    plan = await _plan_in(second, chat)
    assert plan.thread is not None and plan.thread.card_activity_id == card.id  # later updates target it


async def test_restart_with_200_interrupted_plans_and_teams_down_listens_at_once_and_tells_every_thread_later(
    sandbox: Sandbox, make_bot: Any, store_path: Path
) -> None:
    chats = [TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"outage-{i}-{uuid.uuid4().hex[:6]}") for i in range(200)]
    first: RunningBot = make_bot(RATE_LIMIT_PERSON_PER_MINUTE="100000")  # one person asks 200 times here
    carol = sandbox.world.user("carol")
    async with sandbox.driver(first.messages_url) as d:
        for c in chats:
            await d.say(carol, "restart vm dev-01", c)
        await first.settled(timeout=120)
    first.stop()
    store = SqliteStore(store_path)  # the process died while all 200 were running
    for plan in await store.in_states({PlanState.AWAITING_CONSENT}):
        async with store.unit_of_work() as uow:
            uow.save(replace(plan, state=PlanState.EXECUTING), plan.version)
    store.close()
    assert len(chats) == 200
    sandbox.connector.set_outage(True)  # Teams refuses everything
    try:
        second: RunningBot = make_bot(OUTBOX_MAX_BACKOFF_SECONDS="0.5", OUTBOX_MAX_ATTEMPTS="1000", METRICS_PORT="0")
        async with aiohttp.ClientSession() as session, session.get(f"{second.url}/healthz") as r:
            assert r.status == 200  # listening while no Teams call can succeed
        assert len(await second.container.store.in_states({PlanState.INTERRUPTED})) == 200
        async with session_readyz(second) as ready:
            assert ready["checks"]["outbox_depth"] >= 400  # 200 card updates and 200 notices wait for Teams
    finally:
        sandbox.connector.set_outage(False)
    async with sandbox.driver(second.messages_url) as d:

        async def all_told() -> bool:
            told = [m for m in await d.bot_messages() if m.card is None and "Interrupted" in m.text]
            return len(told) >= 200

        await eventually(all_told, "every thread is told its plan was interrupted", timeout=120)
        await second.settled(timeout=60)
        shown = await d.bot_messages()
    for c in chats:
        here = [m for m in shown if m.conversation_id == c.id]
        assert len([m for m in here if m.card is None and "Interrupted" in m.text]) == 1  # once each
        assert [m for m in here if m.card is not None and "Interrupted" in card_text(m.card)]


class session_readyz:
    """GET the readiness detail (the metrics listener's /readyz) as JSON."""

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot
        self.session = aiohttp.ClientSession()

    async def __aenter__(self) -> dict[str, Any]:
        async with self.session.get(str(self.bot.container.readiness_url)) as r:
            body: dict[str, Any] = await r.json()
            return body

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


async def test_a_resolved_alert_expires_its_waiting_plan_and_says_why(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, teams: Teams
) -> None:
    payload = fire(sandbox.arm.alerts, "High CPU on dev-01", [_vm(sandbox, "dev-01")])
    status, body = await _post(driver, bot, sandbox, payload)
    assert status == 202 and body["plans"][0]["state"] == "awaiting_consent"
    plan_id = body["plans"][0]["id"]
    card = await driver.wait_for(lambda m: m.card is not None and plan_id in card_text(m.card))
    resolved = resolve(sandbox.arm.alerts, payload["data"]["essentials"]["alertId"])  # Azure Monitor's own Resolved
    status, outcome = await _post(driver, bot, sandbox, resolved)
    assert status == 202 and outcome["expired"] == [plan_id]
    await teams.wait_card(card, "Expired")
    assert "resolved" in (await teams.wait_reply(card, "Expired")).text
    channel = TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id)
    writes = sandbox.arm.writes_to("dev-01")
    late = await driver.click(
        sandbox.world.user("alice"),
        channel,
        card,
        "approve",
        {"planId": plan_id, "planHash": (await bot.container.store.get(plan_id)).content_hash},
    )
    assert "expired" in str(late.value).lower()
    await bot.settled()
    assert sandbox.arm.writes_to("dev-01") == writes  # a resolved alert's plan never runs
