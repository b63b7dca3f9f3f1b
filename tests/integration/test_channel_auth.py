"""Bot Framework channel authentication: only activities signed as the Teams service signs them are processed.

Every forged activity gets 401 and is not processed at all: no plan is stored or approved, the bot
calls neither the Connector nor ARM, and the refusal is logged (reference: the Bot Framework
authentication doc, https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.keys import SigningKey

from .harness import RunningBot, Teams, find_action


def _claims(sandbox: Sandbox, activity: dict[str, Any]) -> dict[str, Any]:
    now = int(sandbox.channel.clock())
    return {
        "iss": "https://api.botframework.com",
        "aud": sandbox.world.bot.client_id,
        "serviceurl": activity["serviceUrl"],
        "nbf": now - 5,
        "exp": now + 3600,
    }


def _bearer(token: str) -> str:
    return f"Bearer {token}"


Forgery = Callable[[Sandbox, dict[str, Any]], str]
FORGERIES: dict[str, Forgery] = {
    "unsigned": lambda box, a: "",
    "signed with a key the issuer does not publish": lambda box, a: _bearer(SigningKey.generate().sign(_claims(box, a))),
    "expired": lambda box, a: _bearer(box.channel.token(box.world.bot.client_id, a["serviceUrl"], lifetime=-3600)),
    "for another bot": lambda box, a: _bearer(box.channel.token(box.world.agent.client_id, a["serviceUrl"])),
    "from another issuer": lambda box, a: _bearer(
        box.channel.token(box.world.bot.client_id, a["serviceUrl"], issuer="https://api.botframework.example")
    ),
    "for another serviceUrl": lambda box, a: _bearer(box.channel.token(box.world.bot.client_id, "https://elsewhere.example/")),
    "alg none": lambda box, a: _bearer(jwt.encode(_claims(box, a), None, algorithm="none")),
    "garbage": lambda box, a: "Bearer not.a.token",
    "another scheme": lambda box, a: "Basic " + "c2FuZGJveDpzYW5kYm94",
}


def _forge_channel(activity: dict[str, Any]) -> dict[str, Any]:
    return {**activity, "channelId": "webchat"}  # our keys are endorsed for msteams only


@pytest.fixture
async def pending(teams: Teams, chat: Conversation) -> Any:
    """A plan waiting for consent, posted through a properly signed request (the control case)."""
    return await teams.ask("carol", "restart vm dev-01", chat)


@pytest.mark.parametrize("forgery", [*FORGERIES, "channelId not endorsed"])
async def test_forged_activities_are_refused_401_and_nothing_is_processed(
    forgery: str,
    sandbox: Sandbox,
    bot: RunningBot,
    driver: TeamsDriver,
    teams: Teams,
    chat: Conversation,
    pending: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    approve = find_action(await teams.view("alice", chat, pending), "approve")
    assert approve is not None
    message = driver.message(sandbox.world.user("carol"), "restart vm dev-01", chat)
    click = driver.invoke(sandbox.world.user("alice"), chat, pending.conversation_id, pending.id, "approve", approve)
    plans, calls, writes = bot.container.store.count_by_state(), len(sandbox.connector.calls), len(sandbox.arm.writes)
    caplog.set_level(logging.WARNING)

    for activity in (message, click):
        if forgery == "channelId not endorsed":
            activity = _forge_channel(activity)
            authorization = _bearer(sandbox.channel.token(sandbox.world.bot.client_id, activity["serviceUrl"]))
        else:
            authorization = FORGERIES[forgery](sandbox, activity)
        result = await driver.post(activity, authorization=authorization)
        assert result.status == 401, (forgery, result)

    assert bot.container.store.count_by_state() == plans  # no plan stored, none approved
    assert len(sandbox.connector.calls) == calls  # nothing posted or updated
    assert len(sandbox.arm.writes) == writes  # nothing ran
    refusals = [r for r in caplog.records if getattr(r, "event", None) == "channel_auth_refused"]
    assert len(refusals) == 2 and all(r.levelno == logging.WARNING for r in refusals)


async def test_the_same_activity_properly_signed_is_processed(sandbox: Sandbox, driver: TeamsDriver, chat: Conversation) -> None:
    """The control: the forgery tests fail if the bot stops checking, and this one if it refuses everything."""
    sent = await driver.say(sandbox.world.user("carol"), "help", chat)
    await driver.wait_for(lambda m: "restart vm" in m.text, conversation_id=sent["conversation"]["id"])
    assert sandbox.connector.calls[-1].caller == sandbox.world.bot.client_id  # the bot's own token on its replies
