"""ALLOWED_SCOPES bounds chat commands: anything outside is refused before any ARM call."""

from __future__ import annotations

from collections.abc import Callable

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver

from .harness import RunningBot

OTHER_SUB = "00000000-0000-0000-0000-0000000000bb"


async def _ask(driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, text: str, answer: str) -> str:
    sent = await driver.say(sandbox.world.user("carol"), text, chat)
    reply = await driver.wait_for(lambda m: answer in m.text, conversation_id=sent["conversation"]["id"])
    return reply.text


async def test_chat_command_naming_another_subscription_makes_no_arm_call(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, bot: RunningBot
) -> None:
    before = len(sandbox.arm.requests)
    vm_id = f"/subscriptions/{OTHER_SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/web-01"
    for command in (f"restart vm {vm_id}", f"status vm {vm_id}"):
        text = await _ask(driver, sandbox, chat, command, "outside the scopes")
        assert OTHER_SUB in text and "ALLOWED_SCOPES" in text
    assert sandbox.arm.requests[before:] == []  # not even a read
    assert not [e for e in await bot.container.store.events() if e.event == "plan_proposed"]


async def test_names_breaking_azure_rules_never_reach_arm(
    driver: TeamsDriver, sandbox: Sandbox, chat: Conversation, bot: RunningBot
) -> None:
    before = len(sandbox.arm.requests)
    sub = sandbox.world.subscription_id
    await _ask(driver, sandbox, chat, "restart vm web-01 in ..", "not a valid resource group name")
    await _ask(driver, sandbox, chat, "restart vm ..", "not a valid VM name")
    await _ask(
        driver,
        sandbox,
        chat,
        f"restart vm /subscriptions/{sub}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/a%2F..",
        "is not a VM resource id",
    )
    assert sandbox.arm.requests[before:] == []


async def test_resource_group_outside_narrower_scopes_is_refused_before_listing(
    sandbox: Sandbox, chat: Conversation, make_bot: Callable[..., RunningBot]
) -> None:
    sub = sandbox.world.subscription_id
    narrow = make_bot(ALLOWED_SCOPES=f"/subscriptions/{sub}/resourceGroups/dev-rg", RESPONSE_PLANS_FILE="", API_CALLERS_FILE="")
    async with sandbox.driver(narrow.messages_url) as driver:
        before = len(sandbox.arm.requests)
        text = await _ask(driver, sandbox, chat, "restart vm web-01 in prod-rg", "outside the scopes")
        assert "prod-rg" in text and sandbox.arm.requests[before:] == []
        # by name alone, VMs outside the scopes are neither matched nor suggested
        text = await _ask(driver, sandbox, chat, "restart vm web-01", "no VM named")
        assert "dev-01" in text and "web-02" not in text
