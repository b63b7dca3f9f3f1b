"""The bot is up against the sandbox and answers through the Teams driver."""

from __future__ import annotations

from sandbox.driver import Conversation, TeamsDriver

from .harness import Teams


async def test_help_lists_the_commands(teams: Teams, driver: TeamsDriver, chat: Conversation) -> None:
    await driver.say(teams.user("carol"), "help", chat)
    reply = await driver.wait_for(lambda m: "restart vm" in m.text, conversation_id=chat.id)
    for command in ("start vm", "stop vm", "deallocate vm", "redeploy vm", "status vm", "pending"):
        assert command in reply.text
