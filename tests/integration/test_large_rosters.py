"""Rosters as Teams sends them, in conversations larger than a card's automatic refresh reaches.

Teams refreshes a card by itself for everyone only in conversations of at most 60 members; beyond that, only for the
people the card's `refresh.userIds` names (sandbox/teams_models.py, `refreshes_automatically`). The bot learns those
people's Teams ids from the conversation's roster, which it must read the way Teams documents: page by page
(`pagedmembers`, following continuation tokens), the Entra object id under `aadObjectId`; the non-paged call names it
`objectId` (sandbox/connector/roster.py). Runs on both SDK adapters (BOT_SDK) like the whole suite.
"""

from __future__ import annotations

import uuid

import pytest

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.world import Channel

from .harness import RunningBot, Teams, find_action

# a group chat as large as Teams allows (250 people), and a channel of a team of 603: its approvers on the second page
PLACES = {"group chat of 250": 247, "channel of a team of 603": 600}


def _place(sandbox: Sandbox, kind: str) -> Conversation:
    name = uuid.uuid4().hex[:8]
    if kind.startswith("group chat"):
        return TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"large-{name}")
    channel = Channel("19:sandbox-large-team@thread.tacv2", "Large", f"19:large-{name}@thread.tacv2", "Everyone")
    return TeamsDriver.channel(channel, sandbox.world.home_tenant_id)


@pytest.mark.parametrize("kind", PLACES)
async def test_in_a_conversation_of_more_than_60_the_approver_sees_approve_without_a_manual_refresh(
    sandbox: Sandbox, bot: RunningBot, teams: Teams, kind: str
) -> None:
    place = _place(sandbox, kind)
    carol, alice, bob = (sandbox.world.user(n) for n in ("carol", "alice", "bob"))
    roster = sandbox.connector.set_roster(place.id, [carol, alice, bob], others=PLACES[kind])
    assert len(roster) > 60
    since = len(sandbox.connector.calls)

    card = await teams.ask("carol", "restart vm dev-01", place)  # posted where it was asked: approvers are members
    assert card.conversation_id.split(";messageid=")[0] == place.id and card.card is not None
    user_ids = card.card["refresh"]["userIds"]
    assert set(user_ids) == {alice.teams_id, bob.teams_id}  # the approvers, and only they (carol asked)

    seen = await teams.sees("alice", place, card)
    assert find_action(seen, "approve") is not None and find_action(seen, "deny") is not None
    assert find_action(await teams.sees("carol", place, card), "approve") is None  # her client shows the posted card

    roster_calls = [c.operation for c in sandbox.connector.calls[since:] if c.operation.endswith("members")]
    assert roster_calls and set(roster_calls) == {"paged_members"}  # page by page, never the non-paged roster
    pages = -(-len(roster) // 500)  # the bot asks for 500 a page, the most Teams serves
    assert len(roster_calls) >= pages  # every page: in the channel the approvers are on the second

    answer = await teams.click("alice", place, card, "approve", find_action(seen, "approve"))
    assert answer.status == 200
    await teams.wait_card(card, "Succeeded")
