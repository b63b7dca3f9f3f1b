"""The bot is up against the sandbox and answers through the Teams driver."""

from __future__ import annotations

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver

from .harness import Teams


async def test_help_lists_the_commands(teams: Teams, driver: TeamsDriver, chat: Conversation) -> None:
    await driver.say(teams.user("carol"), "help", chat)
    reply = await driver.wait_for(lambda m: "restart vm" in m.text, conversation_id=chat.id)
    for command in ("start vm", "stop vm", "deallocate vm", "redeploy vm", "status vm", "pending"):
        assert command in reply.text


async def test_personal_chat_works_without_a_mention(teams: Teams, driver: TeamsDriver) -> None:
    carol = teams.user("carol")
    conversation = TeamsDriver.personal(carol)
    await driver.say(carol, "status vm dev-01", conversation, mention=False)
    await driver.wait_for(lambda m: "dev-01" in m.text, conversation_id=conversation.id)


async def test_teams_throttling_is_retried_and_the_card_still_arrives(teams: Teams, sandbox: Sandbox, chat: Conversation) -> None:
    sandbox.connector.throttle(2, retry_after=1)
    card = await teams.ask("carol", "restart vm dev-01", chat)
    assert card.card is not None
    statuses = [c for c in sandbox.connector.calls if c.conversation_id == chat.id]
    assert len(statuses) >= 3  # two refused with 429, then accepted


async def test_unidentified_sender_is_told_why(driver: TeamsDriver, teams: Teams, chat: Conversation) -> None:
    activity = driver.message(teams.user("carol"), "help", chat)
    del activity["from"]["aadObjectId"]
    await driver.post(activity)
    await driver.wait_for(lambda m: "work account" in m.text, conversation_id=chat.id)
