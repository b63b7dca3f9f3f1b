"""Hostile callers: the bot's token goes only to our Bot Connector hosts, people are judged by their own
tenant and role, and nobody can flood the bot."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from azure.identity import ClientSecretCredential

from bot.adapters.teams.notifier import UntrustedServiceUrl
from bot.config import ConfigError
from bot.domain.plan import PlanState, Thread
from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.server import ServerThread

from .harness import ManualClock, RunningBot, Teams, bot_sdk, bot_settings, card_text, find_action

CHANNEL = "19:sandbox-incidents@thread.tacv2"


@dataclass
class Listener:
    """An HTTPS server (the sandbox CA trusts it) that records every request it gets: a would-be thief."""

    url: str
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def listener(sandbox: Sandbox) -> Iterator[Listener]:
    thread = ServerThread("listener")
    seen = Listener("")

    async def record(request: web.Request) -> web.Response:
        seen.requests.append(f"{request.method} {request.path} auth={'Authorization' in request.headers}")
        return web.json_response({"id": "stolen"}, status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    port = thread.serve(app, ssl_context=sandbox.tls.server_context)
    seen.url = f"https://localhost:{port}/teams/"
    yield seen
    thread.stop()


def _token(sandbox: Sandbox) -> str:
    app = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    return cred.get_token(f"{sandbox.world.bot.app_id_uri}/.default").token


def _plan(sandbox: Sandbox, target: dict[str, Any]) -> dict[str, Any]:
    vm = next(v for v in sandbox.world.vms if v.name == "dev-01")
    return {"title": "Restart dev-01", "rationale": "hung", "actions": [{"operation": "restart", "resourceId": vm.id}], "target": target}


async def _post(driver: TeamsDriver, bot: RunningBot, body: Any, token: str) -> tuple[int, Any, dict[str, str]]:
    async with driver.session.post(f"{bot.url}/api/plans", json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


# -- 1. outbound hosts are ours ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target_kind", ["channelId", "conversationId"])
async def test_api_plan_naming_a_foreign_service_url_is_refused_and_the_host_hears_nothing(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, listener: Listener, target_kind: str
) -> None:
    token = _token(sandbox)
    before = len(await bot.container.store.events())
    target_id = CHANNEL if target_kind == "channelId" else "19:sandbox-ops@thread.v2"
    for url in (
        listener.url,
        listener.url.replace("https://", "http://"),
        "https://user:pw@smba.trafficmanager.net/teams/",
        "ftp://smba.trafficmanager.net/teams/",
    ):
        status, answer, _ = await _post(driver, bot, _plan(sandbox, {target_kind: target_id, "serviceUrl": url}), token)
        assert status == 400, answer
        assert [e["field"] for e in answer["errors"]] == ["target.serviceUrl"]
        assert "TEAMS_SERVICE_URL" in answer["errors"][0]["message"]
    assert listener.requests == []
    assert len(await bot.container.store.events()) == before  # nothing proposed, nothing stored


async def test_api_plan_for_a_tenant_the_bot_does_not_serve_is_refused(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    other = sandbox.world.user("mallory").tenant_id
    status, answer, _ = await _post(driver, bot, _plan(sandbox, {"channelId": CHANNEL, "tenantId": other}), _token(sandbox))
    assert status == 400 and [e["field"] for e in answer["errors"]] == ["target.tenantId"]


async def test_api_plan_on_the_configured_connector_still_works(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    target = {"channelId": CHANNEL, "serviceUrl": sandbox.connector.base_url}
    status, answer, _ = await _post(driver, bot, _plan(sandbox, target), _token(sandbox))
    assert status == 202, answer
    await driver.wait_for(lambda m: m.card is not None and answer["id"] in json.dumps(m.card))


def test_response_plan_naming_a_foreign_service_url_stops_start_up(sandbox: Sandbox, tmp_path: Path, listener: Listener) -> None:
    plans = sandbox.response_plans()
    for plan in plans["responsePlans"]:  # type: ignore[union-attr]
        plan["channel"] = {**plan["channel"], "serviceUrl": listener.url}
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(plans))
    with pytest.raises(ConfigError, match=r"channel\.serviceUrl"):
        bot_settings(sandbox, tmp_path / "s.sqlite3", RESPONSE_PLANS_FILE=str(path))
    assert listener.requests == []


async def test_the_notifier_refuses_any_untrusted_url_whatever_stored_it(bot: RunningBot, listener: Listener) -> None:
    """Defence in depth: a thread in the store (an old row, a response plan) naming a foreign host is never called."""
    notifier = bot.container.notifier  # the outbox worker's
    for url in (listener.url, listener.url.replace("https://", "http://")):
        thread = Thread(url, "19:sandbox-x@thread.v2", "t", "groupChat")

        async def say(thread: Thread = thread) -> None:
            await notifier.say(thread, "hello")

        with pytest.raises(UntrustedServiceUrl):
            bot.thread.call(say)
    assert listener.requests == []


BOTBUILDER_ONLY = pytest.mark.skipif(bot_sdk() != "botbuilder", reason="botbuilder's connector factory (BOT_SDK=botbuilder)")
AGENTS_ONLY = pytest.mark.skipif(bot_sdk() != "agents", reason="the Agents SDK adapter's connector (BOT_SDK=agents)")


@BOTBUILDER_ONLY
def test_connector_clients_are_bounded_and_closed_on_eviction(bot: RunningBot, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.adapters.teams import auth as auth_module

    closed: list[Any] = []
    close = auth_module._close

    async def recording_close(client: Any) -> None:
        closed.append(client)
        await close(client)

    monkeypatch.setattr(auth_module, "_close", recording_close)
    limit = auth_module.MAX_CONNECTOR_CLIENTS
    factory = bot.container.auth.create_connector_factory(bot.container.adapter.create_claims_identity(sandbox.world.bot.client_id))

    async def make_many() -> list[Any]:
        return [await factory.create(f"{sandbox.connector.base_url}/r{i}/", None) for i in range(limit + 8)]

    clients = bot.thread.call(make_many)
    assert factory.size == limit  # type: ignore[attr-defined]
    assert closed == clients[:8]  # the least recently used ones, each closed


# -- 2. people judged by their own tenant ------------------------------------------------------------------------


async def _refused_command(driver: TeamsDriver, bot: RunningBot, who: str, chat: Conversation, sandbox: Sandbox, expected: str) -> None:
    sent = await driver.say(sandbox.world.user(who), "restart vm dev-01", chat)
    thread = sent["conversation"]["id"]
    reply = await driver.wait_for(lambda m: expected in m.text, conversation_id=thread)
    assert reply.card is None
    assert not [m for m in await driver.bot_messages(thread) if m.card is not None]  # no plan was proposed
    oid = sandbox.world.user(who).object_id
    assert not [p for p in await bot.container.store.in_states(PlanState) if p.requested_by.object_id == oid]


async def test_someone_of_another_tenant_in_a_home_tenant_chat_cannot_propose(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, chat: Conversation
) -> None:
    assert chat.tenant_id == sandbox.world.home_tenant_id  # the chat is ours; mallory is not
    await _refused_command(driver, bot, "mallory", chat, sandbox, "only serves people of its own organisation")


async def test_a_guest_cannot_propose_unless_guests_are_allowed(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    await _refused_command(driver, bot, "gus", chat, sandbox, "Guests of this organisation")
    events = [e for e in await bot.container.store.events() if e.event == "command_refused"]
    assert any(e.detail.get("code") == "guest" for e in events)
    lenient: RunningBot = make_bot(ALLOW_GUESTS="true")
    async with sandbox.driver(lenient.messages_url) as d:
        await Teams(d, sandbox).ask("gus", "restart vm dev-01", chat)  # a card is posted for the guest's plan


async def test_a_guest_named_as_approver_is_still_refused(sandbox: Sandbox, chat: Conversation, make_bot: Any) -> None:
    approvers = ",".join(sandbox.world.user(n).object_id for n in ("alice", "gus"))
    bot: RunningBot = make_bot(DEFAULT_APPROVERS=approvers)
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(await teams.view("alice", chat, card), "approve")
        result = await teams.click("gus", chat, card, "approve", data)
        assert result.type == "application/vnd.microsoft.activity.message" and "Guests" in result.value
        assert "Awaiting approval" in card_text(await teams.card_now(card))


async def test_refresh_answers_alike_for_unknown_plans_other_conversations_and_outsiders(
    teams: Teams, sandbox: Sandbox, chat: Conversation
) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    data = find_action(card.card, "refresh")
    assert data is not None
    elsewhere = TeamsDriver.group_chat(sandbox.world.home_tenant_id, "elsewhere-" + chat.id[-12:-8])
    alice = teams.user("alice")
    answers = [
        await teams.driver.click(alice, chat, card, "refresh", {**data, "planId": "p-000000000000"}),  # no such plan
        await teams.driver.post(teams.driver.invoke(alice, elsewhere, elsewhere.id, card.id, "refresh", data)),
        await teams.driver.click(teams.user("mallory"), chat, card, "refresh", data),  # another tenant
        await teams.driver.click(teams.user("gus"), chat, card, "refresh", data),  # a guest
    ]
    assert len({json.dumps(a.body, sort_keys=True) for a in answers}) == 1
    assert answers[0].type == "application/vnd.microsoft.activity.message"
    assert (await teams.view("alice", chat, card))["type"] == "AdaptiveCard"  # the right person, the right place


# -- 3. abuse limits -----------------------------------------------------------------------------------------------

TOO_FAST = "You are sending commands faster than I can safely act on them; wait a minute and try again. Nothing was done."


async def _replies(d: TeamsDriver, conversation: Conversation, asked: list[dict[str, Any]]) -> list[str]:
    """Wait (polling, with a deadline) until the bot has answered each command `asked`; the answers' texts in the
    order of the commands (each answer is a reply to its command: answers sent through the outbox may arrive after a
    refusal sent in the turn)."""
    await d.wait_for(lambda m: True, conversation_id=conversation.id)
    answers: dict[str, str] = {}
    for _ in range(500):
        answers = {m.reply_to_id: m.text for m in await d.bot_messages(conversation.id) if m.reply_to_id}
        if all(a["id"] in answers for a in asked):
            return [answers[a["id"]] for a in asked]
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {len(answers)} answers: {list(answers.values())}")


async def test_commands_beyond_a_persons_limit_get_a_polite_refusal_until_time_passes(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    clock = ManualClock()
    bot: RunningBot = make_bot(clock=clock, RATE_LIMIT_PERSON_PER_MINUTE="3")
    carol = sandbox.world.user("carol")
    async with sandbox.driver(bot.messages_url) as d:
        asked = [await d.say(carol, "help", chat) for _ in range(4)]
        texts = await _replies(d, chat, asked)
        assert texts[:3] == [texts[0]] * 3 and TOO_FAST not in texts[0]
        assert texts[3] == TOO_FAST  # never silence
        clock.advance(seconds=61)
        asked.append(await d.say(carol, "help", chat))
        assert (await _replies(d, chat, asked))[4] == texts[0]


async def test_a_conversation_has_its_own_limit_across_people(sandbox: Sandbox, chat: Conversation, make_bot: Any) -> None:
    bot: RunningBot = make_bot(clock=ManualClock(), RATE_LIMIT_CONVERSATION_PER_MINUTE="2")
    async with sandbox.driver(bot.messages_url) as d:
        asked = [await d.say(sandbox.world.user(who), "help", chat) for who in ("carol", "alice", "bob")]
        texts = await _replies(d, chat, asked)
        assert texts[2] == TOO_FAST and TOO_FAST not in texts[0] + texts[1]


async def test_card_actions_beyond_the_limit_get_a_429_universal_actions_error(sandbox: Sandbox, chat: Conversation, make_bot: Any) -> None:
    bot: RunningBot = make_bot(clock=ManualClock(), RATE_LIMIT_PERSON_PER_MINUTE="3")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(card.card, "refresh")
        assert data is not None
        alice = sandbox.world.user("alice")
        answers = [await d.click(alice, chat, card, "refresh", data) for _ in range(4)]
        assert [a.type for a in answers[:3]] == ["application/vnd.microsoft.card.adaptive"] * 3
        assert (answers[3].status, answers[3].status_code, answers[3].type) == (200, 429, "application/vnd.microsoft.error")
        assert answers[3].value["message"] == TOO_FAST


async def test_api_callers_beyond_their_limit_get_429_with_retry_after(sandbox: Sandbox, make_bot: Any) -> None:
    clock = ManualClock()
    bot: RunningBot = make_bot(clock=clock, RATE_LIMIT_API_PER_MINUTE="2")
    token = _token(sandbox)
    body = _plan(sandbox, {"channelId": CHANNEL})
    async with sandbox.driver(bot.messages_url) as d:
        statuses = [(await _post(d, bot, body, token))[0] for _ in range(2)]
        status, answer, headers = await _post(d, bot, body, token)
        assert statuses == [202, 202] and status == 429
        assert int(headers["Retry-After"]) >= 1 and "nothing was proposed" in answer["error"]
        clock.advance(seconds=31)
        assert (await _post(d, bot, body, token))[0] == 202


async def test_metrics_are_not_on_the_public_port(driver: TeamsDriver, bot: RunningBot) -> None:
    async with driver.session.get(f"{bot.url}/metrics") as r:
        assert r.status == 404
    assert bot.container.metrics_url is None  # METRICS_PORT empty: no metrics listener at all


@AGENTS_ONLY
def test_agents_connector_sessions_are_bounded_closed_on_eviction_and_time_out(bot: RunningBot, sandbox: Sandbox) -> None:
    """The Agents SDK adapter's Connector sessions: at most MAX_SESSIONS, the least recently used closed, each with
    the outbound timeout; the credential broker's timeout as for botbuilder."""
    from bot.adapters.agents import connector as connector_module

    connector = bot.container.notifier._connector  # type: ignore[attr-defined]
    limit = connector_module.MAX_SESSIONS

    async def make_many() -> list[Any]:
        return [(await connector.client(f"{sandbox.connector.base_url}/r{i}/")).client for i in range(limit + 8)]

    sessions = bot.thread.call(make_many)
    assert len(connector._sessions) == limit
    assert all(s.closed for s in sessions[:8]) and not any(s.closed for s in sessions[8:])
    assert all(s.timeout.total == bot.container.settings.limits.outbound_timeout for s in sessions)
    assert bot.container.broker._common["read_timeout"] == bot.container.settings.limits.outbound_timeout


@BOTBUILDER_ONLY
def test_every_outbound_client_has_a_timeout(bot: RunningBot, sandbox: Sandbox) -> None:
    settings = bot.container.settings
    factory = bot.container.auth.create_connector_factory(bot.container.adapter.create_claims_identity(sandbox.world.bot.client_id))

    async def connector() -> Any:
        return await factory.create(sandbox.connector.base_url, None)

    client = bot.thread.call(connector)
    assert client.config.connection.timeout == settings.limits.outbound_timeout
    assert bot.container.broker._common["read_timeout"] == settings.limits.outbound_timeout


# -- 4. a flood of distinct subscriptions leaves memory and open files flat ----------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


async def _flood(d: TeamsDriver, who: Any, chat: Conversation, subscriptions: list[str], concurrency: int = 8) -> None:
    queue = list(subscriptions)

    async def worker() -> None:
        while queue:
            sub = queue.pop()
            vm = f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{sub[:8]}"
            await d.say(who, f"status vm {vm}", chat)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def test_a_thousand_commands_naming_distinct_subscriptions_leave_memory_and_open_files_flat(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    """Each subscription needs its own ARM client: the pool must stay bounded, with its sockets closed."""
    subscriptions = [str(uuid.uuid4()) for _ in range(1_200)]
    bot: RunningBot = make_bot(
        ALLOWED_SCOPES=",".join(f"/subscriptions/{s}" for s in [sandbox.world.subscription_id, *subscriptions]),
        RATE_LIMIT_PERSON_PER_MINUTE="100000",  # the limits are tested above; here they would only stop the flood
        RATE_LIMIT_CONVERSATION_PER_MINUTE="100000",
        LOG_LEVEL="WARNING",
    )
    carol = sandbox.world.user("carol")
    async with sandbox.driver(bot.messages_url) as d:
        await _flood(d, carol, chat, subscriptions[:200])  # warm-up: pools, caches and buffers reach their size
        gc.collect()
        fds, rss = _open_fds(), _rss_kib()
        await _flood(d, carol, chat, subscriptions[200:])  # the 1,000 measured commands
        # answers go out through the outbox within Teams' per-thread rate limit (60 per 30 s): the rest are queued.
        # The queue is read first: a message sent between the two reads is then counted twice, never missed.
        queued = bot.container.store.outbox_depth()
        answered = [m for m in await d.bot_messages(chat.id) if "power state" in m.text or "VM **" in m.text]
        gc.collect()
        fds_after, rss_after = _open_fds(), _rss_kib()
    print(f"1,000 distinct subscriptions: open fds {fds} -> {fds_after}, RSS {rss / 1024:.1f} -> {rss_after / 1024:.1f} MiB")
    assert len(answered) + queued >= 1_200  # every command was answered or its answer queued (none dropped by a limit)
    reached = {path.split("/")[2] for _, path in sandbox.arm.requests if path.startswith("/subscriptions/")}
    assert len(reached & set(subscriptions)) >= 1_000  # each command really went to ARM for its own subscription
    assert fds_after - fds <= 8  # a leaked client per subscription would leave ~1,000 sockets open
    # the sandbox keeps every reply and request in this same process, a few KiB each; a client per
    # subscription (an azure-core pipeline, an aiohttp session) would cost far more than this margin
    assert rss_after - rss <= 48 * 1024


# -- 5. an outsider's flood cannot lock the approvers out ----------------------------------------------------------

FLOOD = 125


async def _flood_help(d: TeamsDriver, who: Any, chat: Conversation, count: int = FLOOD) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    for _ in range(count):
        sent.append(await d.say(who, "help", chat))
    return sent


async def test_an_outsiders_flood_of_messages_neither_locks_approvers_out_nor_gets_answered_more_than_5_times(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    """mallory, of another tenant, refused by every identity check, sends 125 `help` in a group chat where carol asked
    for a plan: alice's Approve still goes through and carol may still ask; mallory is answered (and audited) at most 5
    times, since each answer spends the app's Teams budget. The clock stands still: no bucket refills meanwhile."""
    bot: RunningBot = make_bot(clock=ManualClock())  # the default limits: 60 a person, 120 a conversation, per minute
    mallory = sandbox.world.user("mallory")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        flood = await _flood_help(d, mallory, chat)
        result = await teams.click("alice", chat, card, "approve")
        assert result.type == "application/vnd.microsoft.card.adaptive", result.body
        await teams.wait_card(card, "Succeeded")
        assert (await teams.ask("carol", "restart vm dev-02", chat)).card is not None  # members are not locked out either
        await bot.settled()
        flood_ids = {a["id"] for a in flood}
        answers = [m for m in await d.bot_messages(chat.id) if m.reply_to_id in flood_ids]
    assert 1 <= len(answers) <= 5, [m.text for m in answers]
    audited = [e for e in await bot.container.store.events() if e.actor == mallory.object_id]
    assert 1 <= len(audited) <= 5


async def test_an_outsiders_flood_of_clicks_is_audited_at_most_5_times_and_the_approver_still_clicks(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    bot: RunningBot = make_bot(clock=ManualClock())
    mallory = sandbox.world.user("mallory")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        approve = find_action(await teams.view("alice", chat, card), "approve")
        assert approve is not None
        answers = [await d.click(mallory, chat, card, "approve", approve) for _ in range(FLOOD)]
        assert all(a.status == 200 for a in answers)  # every invoke is answered (in its HTTP response: no Teams budget)
        result = await teams.click("alice", chat, card, "approve", approve)
        assert result.type == "application/vnd.microsoft.card.adaptive", result.body
    audited = [e for e in await bot.container.store.events() if e.actor == mallory.object_id]
    assert 1 <= len(audited) <= 5


async def test_an_approvers_click_on_a_plan_waiting_for_them_is_never_refused_for_others_traffic(
    sandbox: Sandbox, chat: Conversation, make_bot: Any
) -> None:
    """Members of the conversation spend its whole bucket: their own further commands wait, the approver's click on
    the plan waiting for her does not."""
    bot: RunningBot = make_bot(clock=ManualClock(), RATE_LIMIT_CONVERSATION_PER_MINUTE="3")
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)  # 1
        approve = find_action(await teams.view("alice", chat, card), "approve")  # 2 (alice's refresh)
        asked = [await d.say(sandbox.world.user("bob"), "help", chat) for _ in range(2)]  # 3, then over the limit
        assert (await _replies(d, chat, asked))[1] == TOO_FAST
        result = await teams.click("alice", chat, card, "approve", approve)
        assert result.type == "application/vnd.microsoft.card.adaptive", result.body
        await teams.wait_card(card, "Succeeded")


# -- 6. caller text stays plain where cards are not rendered ---------------------------------------------------------

HOSTILE_TITLE = "[Click here](https://evil.example) <at>alice</at>"


async def test_an_api_callers_title_reaches_notifications_as_plain_escaped_text(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    """The activity's `summary` and the card's `fallbackText` are what notifications and clients that cannot render
    cards show: neither turns the caller's title into a link or a mention."""
    body = {**_plan(sandbox, {"channelId": CHANNEL}), "title": HOSTILE_TITLE}
    status, answer, _ = await _post(driver, bot, body, _token(sandbox))
    assert status == 202, answer
    posted = await driver.wait_for(lambda m: m.card is not None and answer["id"] in json.dumps(m.card))
    # the card is updated once decided: each version carries the summary (a new channel thread's first one has none)
    await Teams(driver, sandbox).click(
        "alice", TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id), posted, "approve"
    )
    posted = await driver.wait_for(lambda m: m.id == posted.id and len(m.versions) > 1)
    summaries = [str(v["summary"]) for v in posted.versions if v.get("summary")]
    fallbacks = [str(a["content"]["fallbackText"]) for v in posted.versions for a in v.get("attachments", [])]
    assert summaries and fallbacks
    for text in summaries + fallbacks:
        assert "Click here" in text  # the title is there, as text
        assert "](https://" not in text and "https://evil" not in text and "<at>" not in text, text
