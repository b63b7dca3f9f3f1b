"""Every plan that ends without doing everything says what to do next, and "Propose again" starts a new consent round."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bot.adapters.store.sqlite import SqliteStore
from bot.domain.plan import PlanState
from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, TeamsDriver

from .harness import ManualClock, RunningBot, Teams, card_text, find_action

PROPOSE_AGAIN = "proposeAgain"


async def _refused(teams: Teams, chat: Conversation, vm: str = "web-01") -> BotMessage:
    """carol asks for a prod restart, alice approves, the agent (Reader on prod-rg) is refused."""
    card = await teams.ask("carol", f"restart vm {vm}", chat)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "credentials needed")
    return card


async def _grant(teams: Teams, sandbox: Sandbox, who: str, chat: Conversation, card: BotMessage) -> object:
    data = find_action(await teams.view(who, chat, card), "grant")
    assert data is not None, f"{who} sees no 'Use my credentials' button"
    return await teams.click(who, chat, card, "grant", data, token=sandbox.entra.sso_token(who), connection_name="sso")


async def _propose_again(teams: Teams, who: str, chat: Conversation, card: BotMessage) -> tuple[str, BotMessage]:
    """Click Propose again on the (final) card as `who`; the answer, and the new card posted in the same thread."""
    data = find_action(await teams.card_now(card), PROPOSE_AGAIN)
    assert data is not None, "the final card offers no Propose again"
    result = await teams.click(who, chat, card, PROPOSE_AGAIN, data)
    fresh = await teams.driver.wait_for(
        lambda m: m.card is not None and m.id != card.id and "Awaiting approval" in card_text(m.card), conversation_id=card.conversation_id
    )
    return str(result.value), fresh


async def test_not_authorized_names_a_sufficient_role_and_offers_propose_again(teams: Teams, sandbox: Sandbox, chat: Conversation) -> None:
    card = await _refused(teams, chat)
    await _grant(teams, sandbox, "bob", chat, card)
    final = card_text(await teams.wait_card(card, "Not authorized"))
    assert "Virtual Machine Contributor on prod-rg" in final and "Propose again" in final
    assert find_action(await teams.card_now(card), PROPOSE_AGAIN) is not None
    reply = await teams.wait_reply(card, "Not authorized")
    assert "Bob Reader" in reply.text and "Virtual Machine Contributor on prod-rg" in reply.text
    assert "Propose again" in reply.text


async def test_propose_again_makes_a_new_plan_that_must_be_approved_again(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused(teams, chat)
    await _grant(teams, sandbox, "bob", chat, card)
    await teams.wait_card(card, "Not authorized")
    answer, fresh = await _propose_again(teams, "alice", chat, card)
    assert "Proposed again as plan" in answer
    old_id = find_action(await teams.card_now(card), PROPOSE_AGAIN)["planId"]  # type: ignore[index]
    new_id = find_action(fresh.card, "refresh")["planId"]  # type: ignore[index]
    assert new_id != old_id and "Restart" in card_text(fresh.card)
    await bot.settled()
    assert len(sandbox.arm.writes) == since  # nothing ran: a new consent round, not a re-run
    # alice clicked, so she is the requester now: someone else must approve
    own = await teams.click(
        "alice",
        chat,
        fresh,
        "approve",
        find_action(fresh.card, "refresh") | {"planHash": (await bot.container.store.get(new_id)).content_hash},
    )  # type: ignore[union-attr]
    assert "someone else has to approve" in str(own.value)
    await teams.click("bob", chat, fresh, "approve")
    await teams.wait_card(fresh, "credentials needed")
    events = [e for e in await bot.container.store.events(new_id) if e.event == "plan_proposed_again"]
    assert events and events[0].detail["previous_plan"] == old_id


async def test_a_second_approver_may_lend_rights_when_attempts_remain(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    bot: RunningBot = make_bot(CREDENTIALS_ATTEMPTS="2")  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await _refused(teams, chat)
        await _grant(teams, sandbox, "bob", chat, card)
        await teams.wait_reply(card, "Bob Reader")  # refused too, and the request stays open
        again = card_text(await teams.wait_card(card, "Another approver may try"))
        assert "credentials needed" in again and "Virtual Machine Contributor on prod-rg" in again
        await _grant(teams, sandbox, "alice", chat, card)
        await teams.wait_card(card, "Succeeded")


async def test_declined_credentials_say_who_and_why_and_offer_propose_again(teams: Teams, sandbox: Sandbox, chat: Conversation) -> None:
    card = await _refused(teams, chat)
    data = find_action(await teams.view("alice", chat, card), "cancel")
    assert data is not None
    await teams.click("alice", chat, card, "cancel", {**data, "reason": "not during the sale"})
    reply = await teams.wait_reply(card, "Credentials declined")
    assert "Alice Admin declined to lend credentials: not during the sale" in reply.text
    assert "Propose again" in reply.text
    assert find_action(await teams.card_now(card), PROPOSE_AGAIN) is not None


async def test_denied_plan_offers_propose_again(teams: Teams, chat: Conversation) -> None:
    card = await teams.ask("carol", "restart vm dev-01", chat)
    await teams.click("alice", chat, card, "deny")
    reply = await teams.wait_reply(card, "Denied")
    assert "Denied by Alice Admin" in reply.text and "Propose again" in reply.text
    await teams.wait_card(card, "Propose again")
    assert find_action(await teams.card_now(card), PROPOSE_AGAIN) is not None


async def test_expired_plan_offers_propose_again(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    clock = ManualClock()
    bot: RunningBot = make_bot(clock)  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        clock.advance(minutes=31)
        reply = await teams.wait_reply(card, "Expired")
        assert "Propose again" in reply.text
        _, fresh = await _propose_again(teams, "carol", chat, card)
        assert "Awaiting approval" in card_text(fresh.card)


async def test_interrupted_plan_offers_propose_again(
    make_bot: object, sandbox: Sandbox, chat: Conversation, store_path: Path, teams: Teams
) -> None:
    card = await teams.ask_then_stop(make_bot(), "carol", "restart vm dev-01", chat)  # type: ignore[operator]
    store = SqliteStore(store_path)
    plan = (await store.in_states({PlanState.AWAITING_CONSENT}))[0]
    async with store.unit_of_work() as uow:  # the process died while executing: what it left behind
        uow.save(replace(plan, state=PlanState.EXECUTING), plan.version)
    store.close()
    second: RunningBot = make_bot()  # type: ignore[operator]
    async with sandbox.driver(second.messages_url) as d:
        restarted = Teams(d, sandbox)
        reply = await restarted.wait_reply(card, "Interrupted")
        assert "status vm dev-01" in reply.text and "Propose again" in reply.text
        assert find_action(await restarted.card_now(card), PROPOSE_AGAIN) is not None


async def test_start_for_a_running_vm_is_answered_with_its_state_and_a_question(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation
) -> None:
    await driver.say(sandbox.world.user("carol"), "start vm web-01", chat)
    reply = await driver.wait_for(lambda m: "already running" in m.text, conversation_id=chat.id)
    assert "Did you mean `restart vm web-01`?" in reply.text and "Nothing was proposed" in reply.text
    assert not [m for m in await driver.bot_messages(chat.id) if m.card is not None]


async def test_a_vm_named_in_the_wrong_group_is_answered_with_the_group_it_is_in(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation
) -> None:
    await driver.say(sandbox.world.user("carol"), "restart vm web-01 in dev-rg", chat)
    reply = await driver.wait_for(lambda m: "web-01" in m.text, conversation_id=chat.id)
    assert "web-01 is in `prod-rg`" in reply.text and "dev-01" not in reply.text
