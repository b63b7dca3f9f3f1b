"""Approvers reached wherever a plan is asked (issue 13, item 4).

A plan asked where none of its approvers can act (a personal chat) goes to a new thread of the approvals channel;
the requester gets a link to the card there, each approver a note with the link in their 1:1 chat (learned from
Teams' install events, or created proactively where the app is installed), and the requester is told the decision
where they asked. Everything goes through the outbox. Runs on both SDK adapters (BOT_SDK) like the whole suite.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bot.domain import messages
from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, TeamsDriver
from sandbox.views import plan_id_of

from .harness import RunningBot, Teams


@pytest.fixture
def approvals(sandbox: Sandbox) -> Conversation:
    return TeamsDriver.channel(sandbox.world.approvals_channel, sandbox.world.home_tenant_id)


@pytest.fixture
def agent_callers(sandbox: Sandbox, tmp_path: Path) -> str:
    """API_CALLERS_FILE whose agent may also post into carol's 1:1 chat (its `targets`), as an operator would allow."""
    path = tmp_path / "api-callers.json"
    path.write_text(json.dumps(sandbox.api_callers(TeamsDriver.personal(sandbox.world.user("carol")).id)))
    return str(path)


@pytest.fixture
def channel_bot(make_bot: Callable[..., RunningBot], sandbox: Sandbox, agent_callers: str) -> RunningBot:
    return make_bot(APPROVALS_CHANNEL=sandbox.world.approvals_channel.channel_id, API_CALLERS_FILE=agent_callers)


@pytest.fixture
async def at(sandbox: Sandbox, channel_bot: RunningBot) -> AsyncIterator[Teams]:
    """Teams, in front of the bot with an approvals channel."""
    async with sandbox.driver(channel_bot.messages_url) as d:
        yield Teams(d, sandbox)


@pytest.fixture(autouse=True)
def nobody_installed(sandbox: Sandbox) -> Iterator[None]:
    """Each test starts with the app installed for nobody (the sandbox is shared by the session)."""
    sandbox.connector.installed.clear()
    yield
    sandbox.connector.installed.clear()


def link_target(text: str) -> tuple[str, str]:
    """(channel id, message id) of the Teams deep link in a message's markdown."""
    url = text.split("](", 1)[1].split(")", 1)[0]
    parts = urlsplit(url).path.split("/")  # /l/message/<channel id>/<message id>
    assert parts[1:3] == ["l", "message"], url
    return parts[3].replace("%3A", ":").replace("%40", "@"), parts[4]


async def ask_personally(teams: Teams, who: str, text: str) -> tuple[BotMessage, BotMessage]:
    """`who` asks in their 1:1 chat; returns (the answer with the link there, the card in the approvals channel)."""
    user = teams.user(who)
    sent = await teams.driver.say_personal(user, text)
    chat = TeamsDriver.personal(user).id
    answer = await teams.driver.wait_for(lambda m: m.reply_to_id == sent["id"] and "approvals channel" in m.text, conversation_id=chat)
    channel_id, message_id = link_target(answer.text)
    card = await teams.driver.wait_for(lambda m: m.id == message_id and m.card is not None)
    assert card.conversation_id == f"{channel_id};messageid={message_id}"  # a new thread whose first message is the card
    return answer, card


def notes_for(messages_: list[BotMessage], card: BotMessage) -> list[BotMessage]:
    return [m for m in messages_ if f"/{card.id}?" in m.text and "Approve or deny it here" in m.text]


async def test_a_plan_asked_in_a_personal_chat_is_approved_from_the_approvals_channel_and_the_requester_is_told(
    at: Teams, sandbox: Sandbox, approvals: Conversation, channel_bot: RunningBot
) -> None:
    await at.driver.install(at.user("alice"))  # Teams tells the bot where alice's 1:1 chat is
    _, card = await ask_personally(at, "carol", "restart vm dev-01")
    assert card.conversation_id.startswith(sandbox.world.approvals_channel.channel_id + ";messageid=")
    carol_chat = TeamsDriver.personal(at.user("carol")).id
    assert not [m for m in await at.driver.bot_messages(carol_chat) if m.card is not None]  # no card where nobody can act

    alice_chat = TeamsDriver.personal(at.user("alice")).id
    note = await at.driver.wait_for(lambda m: bool(notes_for([m], card)), conversation_id=alice_chat)
    assert "Carol Requester" in note.text and "Restart VM dev-01" in note.text

    result = await at.click("alice", approvals, card, "approve")
    assert result.status == 200 and result.type == "application/vnd.microsoft.card.adaptive"
    told = await at.driver.wait_for(lambda m: "was approved by Alice Admin" in m.text, conversation_id=carol_chat)
    assert "Restart VM dev-01" in told.text
    await at.wait_reply(card, "Succeeded")  # the result is posted with the card, in the approvals channel
    await channel_bot.settled()
    assert channel_bot.container.store.dead_letters() == 0


async def test_a_denial_in_the_approvals_channel_is_told_to_the_requester_with_who_and_why(at: Teams, approvals: Conversation) -> None:
    _, card = await ask_personally(at, "carol", "restart vm dev-01")
    data = dict(await _button(at, "bob", approvals, card, "deny"), reason="not during the release")
    await at.click("bob", approvals, card, "deny", data)
    carol_chat = TeamsDriver.personal(at.user("carol")).id
    told = await at.driver.wait_for(lambda m: "was denied by Bob Reader" in m.text, conversation_id=carol_chat)
    assert "not during the release" in told.text


async def _button(teams: Teams, who: str, where: Conversation, card: BotMessage, verb: str) -> dict[str, Any]:
    from .harness import find_action

    data = find_action(await teams.view(who, where, card), verb)
    assert data is not None, f"{who} sees no {verb} button"
    return data


async def test_each_approver_gets_one_note_and_the_requester_none(at: Teams, sandbox: Sandbox, channel_bot: RunningBot) -> None:
    """alice asks (she may not approve her own plan): bob, the other approver, is told privately. The app is installed
    for bob but the bot was never told (no install event reached it): the outbox creates the 1:1 chat proactively."""
    bob = at.user("bob")
    sandbox.connector.install(bob)  # installed in Teams; the bot has no reference to bob's chat
    _, card = await ask_personally(at, "alice", "restart vm dev-01")
    bob_chat = TeamsDriver.personal(bob).id
    await at.driver.wait_for(lambda m: bool(notes_for([m], card)), conversation_id=bob_chat)
    await channel_bot.settled()
    assert len(notes_for(await at.driver.bot_messages(bob_chat), card)) == 1
    alice_chat = TeamsDriver.personal(at.user("alice")).id
    assert notes_for(await at.driver.bot_messages(alice_chat), card) == []  # never to the requester
    created = [
        c
        for c in sandbox.connector.calls
        if c.operation == "create_conversation" and c.body and not (c.body.get("channelData") or {}).get("channel")
    ]
    assert [c.body["members"][0]["id"] for c in created if c.body][-1:] == [bob.object_id]


async def test_an_approver_the_app_is_not_installed_for_is_skipped_without_a_dead_letter(
    at: Teams, sandbox: Sandbox, channel_bot: RunningBot
) -> None:
    """Teams refuses a 1:1 chat with someone the app is not installed for (403): that approver sees the card in the
    approvals channel only, and nothing piles up in the outbox."""
    _, card = await ask_personally(at, "carol", "restart vm dev-01")
    await channel_bot.settled()
    for name in ("alice", "bob"):
        assert notes_for(await at.driver.bot_messages(TeamsDriver.personal(at.user(name)).id), card) == []
    assert channel_bot.container.store.dead_letters() == 0


async def test_a_plan_asked_in_a_group_chat_where_an_approver_is_gets_no_channel_post(
    at: Teams, sandbox: Sandbox, chat: Conversation, channel_bot: RunningBot
) -> None:
    before = len(await at.driver.bot_messages())
    card = await at.ask("carol", "restart vm dev-01", chat)
    assert card.conversation_id == chat.id
    await channel_bot.settled()
    after = await at.driver.bot_messages()
    assert [m.conversation_id for m in after[before:]] == [chat.id]  # the card only: no channel post, no notes


async def test_installing_and_uninstalling_the_app_adds_and_removes_the_reference(
    at: Teams, sandbox: Sandbox, channel_bot: RunningBot
) -> None:
    bob = at.user("bob")
    store = channel_bot.container.store

    async def reference() -> Any:
        return await store.personal_chat(bob.tenant_id, bob.object_id)

    await at.driver.install(bob, event="conversationUpdate")  # the bot added to bob's personal scope
    ref = channel_bot.thread.call(reference)
    assert ref is not None and ref.conversation_id == TeamsDriver.personal(bob).id
    await at.driver.uninstall(bob)
    assert channel_bot.thread.call(reference) is None
    await at.driver.install(bob)  # installationUpdate add
    assert channel_bot.thread.call(reference) is not None


async def test_without_an_approvals_channel_the_requester_is_told_nobody_can_approve_and_the_plan_is_stored(
    teams: Teams, bot: RunningBot
) -> None:
    carol = teams.user("carol")
    sent = await teams.driver.say_personal(carol, "restart vm dev-01")
    chat = TeamsDriver.personal(carol).id
    await teams.driver.wait_for(lambda m: m.text == messages.NOBODY_CAN_APPROVE and m.reply_to_id == sent["id"], conversation_id=chat)
    card = await teams.driver.wait_for(lambda m: m.card is not None and m.reply_to_id == sent["id"], conversation_id=chat)
    plan_id = plan_id_of(card)
    assert plan_id is not None and bot.thread.call(lambda: bot.container.store.get(plan_id)) is not None


async def test_members_of_the_approver_group_are_told_privately(
    make_bot: Callable[..., RunningBot], sandbox: Sandbox, approvals: Conversation
) -> None:
    """Approvers are the members of "SRE On-Call" (alice), as Microsoft Graph lists them: alice gets the note."""
    group_bot = make_bot(
        APPROVALS_CHANNEL=sandbox.world.approvals_channel.channel_id,
        DEFAULT_APPROVERS="",
        APPROVER_GROUP_ID=sandbox.world.groups[0].object_id,
    )
    async with sandbox.driver(group_bot.messages_url) as d:
        teams = Teams(d, sandbox)
        await d.install(teams.user("alice"))
        _, card = await ask_personally(teams, "carol", "restart vm dev-01")
        alice_chat = TeamsDriver.personal(teams.user("alice")).id
        await d.wait_for(lambda m: bool(notes_for([m], card)), conversation_id=alice_chat)
        await teams.click("alice", approvals, card, "approve")
        await d.wait_for(lambda m: "was approved by Alice Admin" in m.text, conversation_id=TeamsDriver.personal(teams.user("carol")).id)


async def _post_plan(teams: Teams, bot: RunningBot, sandbox: Sandbox, target: dict[str, Any]) -> tuple[int, Any]:
    """An agent's plan through POST /api/plans, aimed at `target`."""
    from .test_plans_api import _body, _token

    headers = {"Authorization": f"Bearer {_token(sandbox)}"}
    async with teams.driver.session.post(f"{bot.url}/api/plans", json=_body(sandbox, target=target), headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_an_agents_plan_aimed_where_no_approver_is_goes_to_the_approvals_channel_with_notes(
    at: Teams, sandbox: Sandbox, approvals: Conversation, channel_bot: RunningBot
) -> None:
    """The same rule as for a chat command: an agent aims its plan at carol's 1:1 chat, where no approver can act;
    the card goes to the approvals channel, carol's chat gets the link, alice a note, and alice approves it there."""
    carol, alice = at.user("carol"), at.user("alice")
    await at.driver.install(carol)
    await at.driver.install(alice)
    carol_chat = TeamsDriver.personal(carol).id
    earlier = {m.id for m in await at.driver.bot_messages(carol_chat)}  # the sandbox is shared by the session
    status, accepted = await _post_plan(at, channel_bot, sandbox, {"conversationId": carol_chat})
    assert status == 202 and "warning" not in accepted
    link = await at.driver.wait_for(lambda m: m.id not in earlier and "approvals channel" in m.text, conversation_id=carol_chat)
    channel_id, message_id = link_target(link.text)
    assert channel_id == sandbox.world.approvals_channel.channel_id
    card = await at.driver.wait_for(lambda m: m.id == message_id and m.card is not None)
    assert plan_id_of(card) == accepted["id"]
    await at.driver.wait_for(lambda m: bool(notes_for([m], card)), conversation_id=TeamsDriver.personal(alice).id)
    await at.click("alice", approvals, card, "approve")
    await at.wait_card(card, "Succeeded")
    await channel_bot.settled()
    assert channel_bot.container.store.dead_letters() == 0


async def test_an_agents_plan_aimed_where_no_approver_is_without_an_approvals_channel_says_so(
    make_bot: Callable[..., RunningBot], sandbox: Sandbox, agent_callers: str
) -> None:
    bot = make_bot(API_CALLERS_FILE=agent_callers)
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        carol = teams.user("carol")
        await teams.driver.install(carol)
        status, accepted = await _post_plan(teams, bot, sandbox, {"conversationId": TeamsDriver.personal(carol).id})
    assert status == 202 and "APPROVALS_CHANNEL is not set" in accepted["warning"]


async def test_an_agents_plan_aimed_at_a_channel_with_approvers_stays_there(at: Teams, sandbox: Sandbox, channel_bot: RunningBot) -> None:
    incidents = sandbox.world.channels[0].channel_id
    status, accepted = await _post_plan(at, channel_bot, sandbox, {"channelId": incidents})
    assert status == 202 and "warning" not in accepted
    card = await at.driver.wait_for(lambda m: m.card is not None and plan_id_of(m) == accepted["id"])
    assert card.conversation_id.startswith(incidents + ";messageid=")
