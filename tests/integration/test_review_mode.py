"""Review mode end to end (docs/design.md §2, review branch): card, Approve / Deny, agent execution, result."""

from __future__ import annotations

import asyncio

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.world import VirtualMachine

from .harness import RunningBot, Teams, card_text, find_action


async def test_approve_runs_exactly_one_restart_as_the_agent_and_replies_in_the_thread(
    teams: Teams, sandbox: Sandbox, channel: Conversation, bot: RunningBot
) -> None:
    agent = sandbox.world.agent.object_id
    before = sandbox.arm.writes_to("dev-01")
    card = await teams.ask("carol", "restart vm dev-01", channel)
    assert ";messageid=" in card.conversation_id  # posted in the command's thread
    assert "Restart" in card_text(card.card) and "dev-rg" in card_text(card.card)
    result = await teams.click("alice", channel, card, "approve")
    assert result.status == 200 and result.type == "application/vnd.microsoft.card.adaptive"
    final = await teams.wait_card(card, "Succeeded")
    assert find_action(final, "approve") is None and find_action(final, "deny") is None
    assert "refresh" not in final  # the final card has no buttons and no refresh
    reply = await teams.wait_reply(card, "Succeeded")
    assert "the agent identity" in reply.text and "Alice Admin" in reply.text and "dev-01" in reply.text
    assert "duration" in reply.text and "Carol Requester" in reply.text
    assert sandbox.arm.writes_to("dev-01") == before + 1
    assert sandbox.arm.writes_to("dev-01", agent) == sandbox.arm.writes_to("dev-01")


async def test_deny_takes_no_action(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot) -> None:
    before = len(sandbox.arm.writes)
    card = await teams.ask("carol", "deallocate vm dev-01", chat)
    data = find_action(await teams.view("alice", chat, card), "deny")
    assert data is not None
    result = await teams.click("alice", chat, card, "deny", {**data, "reason": "not during business hours"})
    assert "Denied" in card_text(result.value)
    await teams.wait_card(card, "Denied")
    reply = await teams.wait_reply(card, "Denied")
    assert "not during business hours" in reply.text
    await bot.settled()
    assert len(sandbox.arm.writes) == before


async def test_approver_sees_buttons_and_others_a_read_only_card(teams: Teams, chat: Conversation) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    assert find_action(card.card, "approve") is None  # the posted card is read-only
    assert find_action(await teams.view("alice", chat, card), "approve") is not None
    assert find_action(await teams.view("carol", chat, card), "approve") is None  # requester
    # someone of another tenant gets no card at all, only the answer an unknown plan id gets
    data = find_action(card.card, "refresh")
    assert data is not None
    outsider = await teams.driver.click(teams.user("mallory"), chat, card, "refresh", data, trigger="automatic")
    assert outsider.type == "application/vnd.microsoft.activity.message" and "not available" in outsider.value


async def test_two_of_two_needs_both_approvals(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    bot: RunningBot = make_bot(APPROVALS_REQUIRED="2")  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        before = sandbox.arm.writes_to("dev-01")
        card = await teams.ask("carol", "restart vm dev-01", chat)
        first = await teams.click("bob", chat, card, "approve")
        assert "1 of 2" in card_text(first.value)
        await bot.settled()
        assert sandbox.arm.writes_to("dev-01") == before
        replayed = find_action(await teams.view("alice", chat, card), "approve")  # bob clicks his old button again
        again = await teams.click("bob", chat, card, "approve", replayed)
        assert "already approved" in str(again.value)
        await teams.click("alice", chat, card, "approve")
        await teams.wait_card(card, "Succeeded")
        assert sandbox.arm.writes_to("dev-01") == before + 1


async def test_fifty_concurrent_approvals_execute_once(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot) -> None:
    before = sandbox.arm.writes_to("dev-01")
    card = await teams.ask("carol", "restart vm dev-01", chat)
    data = find_action(await teams.view("alice", chat, card), "approve")
    results = await asyncio.gather(*(teams.click("alice", chat, card, "approve", data) for _ in range(50)))
    cards = [r for r in results if r.type == "application/vnd.microsoft.card.adaptive"]
    told = [r for r in results if r.type == "application/vnd.microsoft.activity.message"]
    assert len(cards) == 1 and len(told) == 49
    assert all("already approved by Alice Admin" in r.value for r in told)
    await teams.wait_card(card, "Succeeded")
    await bot.settled()
    assert sandbox.arm.writes_to("dev-01") == before + 1


async def test_agent_refused_on_prod_waits_for_credentials_and_names_the_permission(
    teams: Teams, sandbox: Sandbox, chat: Conversation
) -> None:
    since = len(sandbox.arm.writes)
    card = await teams.ask("carol", "restart vm web-01", chat)
    await teams.click("alice", chat, card, "approve")
    waiting = await teams.wait_card(card, "credentials needed")
    text = card_text(waiting)
    assert "Microsoft.Compute/virtualMachines/restart/action" in text
    assert "on web-01 in prod-rg" in text  # the scope named as people name it; the full ARM id adds nothing here
    reply = await teams.wait_reply(card, "refused")
    assert "restart/action" in reply.text
    assert not [w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/web-01")]


async def test_status_pending_and_unknown_commands_get_helpful_replies(teams: Teams, driver: TeamsDriver, chat: Conversation) -> None:
    await driver.say(teams.user("carol"), "status vm web-02", chat)
    await driver.wait_for(lambda m: "web-02" in m.text and "running" in m.text, conversation_id=chat.id)
    await driver.say(teams.user("carol"), "restart vm web-0", chat)
    await driver.wait_for(lambda m: "Did you mean" in m.text and "web-01" in m.text, conversation_id=chat.id)
    await driver.say(teams.user("carol"), "restrat vm web-01", chat)
    await driver.wait_for(lambda m: "`restart vm web-01`" in m.text, conversation_id=chat.id)
    card = await teams.ask("carol", "redeploy vm dev-01 in dev-rg", chat)
    await driver.say(teams.user("alice"), "pending", chat)
    await driver.wait_for(lambda m: "Redeploy VM dev-01" in m.text and "Waiting for you" in m.text, conversation_id=chat.id)
    assert card.card is not None


async def test_approver_group_members_may_approve_and_others_not(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    group = sandbox.world.groups[0]  # "SRE On-Call": alice only
    bot: RunningBot = make_bot(DEFAULT_APPROVERS="", APPROVER_GROUP_ID=group.object_id)  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        since = len(sandbox.arm.writes)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        assert find_action(await teams.view("bob", chat, card), "approve") is None
        data = find_action(await teams.view("alice", chat, card), "approve")
        refused = await teams.click("bob", chat, card, "approve", data)
        assert "not one of the approvers" in refused.value
        await teams.click("alice", chat, card, "approve", data)
        await teams.wait_card(card, "Succeeded")
        assert len([w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/dev-01")]) == 1


async def test_ambiguous_vm_name_asks_which_one(teams: Teams, driver: TeamsDriver, sandbox: Sandbox, chat: Conversation) -> None:
    twin = VirtualMachine(sandbox.world.subscription_id, "dev-rg", "web-01")
    sandbox.world.vms.append(twin)  # a second web-01, in dev-rg
    try:
        await driver.say(teams.user("carol"), "restart vm web-01", chat)
        reply = await driver.wait_for(lambda m: "several VMs named" in m.text, conversation_id=chat.id)
        assert "`dev-rg`" in reply.text and "`prod-rg`" in reply.text
        card = await teams.ask("carol", "restart vm web-01 in dev-rg", chat)
        assert "dev-rg" in card_text(card.card)
    finally:
        sandbox.world.vms.remove(twin)
