"""Rosters as Teams sends them, in conversations larger than a card's automatic refresh reaches.

Teams refreshes a card by itself for everyone only in conversations of at most 60 members; beyond that, only for the
people the card's `refresh.userIds` names (sandbox/teams_models.py, `refreshes_automatically`). The bot learns those
people's Teams ids from the conversation's roster, which it must read the way Teams documents: page by page
(`pagedmembers`, following continuation tokens), the Entra object id under `aadObjectId`; the non-paged call names it
`objectId` (sandbox/connector/roster.py). Runs on both SDK adapters (BOT_SDK) like the whole suite.
"""

from __future__ import annotations

from sandbox import Sandbox
from sandbox.driver import Conversation

from .harness import RunningBot, Teams, find_action

CROWD = 600  # more than a page of 500: the approvers are on the second page


async def test_in_a_group_chat_of_more_than_60_the_approver_sees_approve_without_a_manual_refresh(
    sandbox: Sandbox, bot: RunningBot, teams: Teams, chat: Conversation
) -> None:
    carol, alice, bob = (sandbox.world.user(n) for n in ("carol", "alice", "bob"))
    roster = sandbox.connector.set_roster(chat.id, [carol, alice, bob], others=CROWD)
    assert len(roster) > 60
    since = len(sandbox.connector.calls)

    card = await teams.ask("carol", "restart vm dev-01", chat)  # posted where it was asked: approvers are members
    assert card.conversation_id == chat.id and card.card is not None
    user_ids = card.card["refresh"]["userIds"]
    assert set(user_ids) == {alice.teams_id, bob.teams_id}  # the approvers, and only they (carol asked)

    seen = await teams.sees("alice", chat, card)
    assert find_action(seen, "approve") is not None and find_action(seen, "deny") is not None
    assert find_action(await teams.sees("carol", chat, card), "approve") is None  # her client shows the posted card

    roster_calls = [c.operation for c in sandbox.connector.calls[since:] if c.operation.endswith("members")]
    assert roster_calls and set(roster_calls) == {"paged_members"}  # page by page, never the non-paged roster
    assert roster_calls.count("paged_members") >= 2  # the second page was read: the approvers are on it

    answer = await teams.click("alice", chat, card, "approve", find_action(seen, "approve"))
    assert answer.status == 200
    await teams.wait_card(card, "Succeeded")
