"""End to end through Microsoft's own Teams-like client, the Agents Playground, in headless Chromium.

alice uses the Playground (its current user); carol asks from another client (the sandbox's Teams
driver) in the same group chat, so the requester and the approver are different people, as the
consent policy requires. The Playground has no user-specific card views, so the bot runs with
CARD_BUTTONS=everyone, as `make run` does. The Playground cannot sign activities, so the bot runs as
`sre-consent-bot sandbox --anonymous` runs it: no MicrosoftAppId, ANONYMOUS_ALLOWED=true, loopback only.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from sandbox import Sandbox
from sandbox.driver import BOT_ID, BOT_NAME, Conversation, TeamsDriver
from tests.integration.harness import RunningBot, bot_settings, start_bot

from .playground import GROUP_CHAT, Playground, config_yaml, start_playground

SHOTS = os.environ.get("SCREENSHOTS_DIR")


@pytest.fixture
def bot(sandbox: Sandbox, tmp_path: Path) -> Iterator[RunningBot]:
    running = start_bot(bot_settings(sandbox, tmp_path / "bot.sqlite3", CARD_BUTTONS="everyone", **sandbox.anonymous_environment()))
    yield running
    running.stop()


@pytest.fixture
def playground(sandbox: Sandbox, bot: RunningBot, tmp_path: Path) -> Iterator[Playground]:
    pg = start_playground(tmp_path / "playground", bot.messages_url, config_yaml(sandbox.world, "alice", BOT_ID, BOT_NAME))
    yield pg
    pg.stop()


@pytest.fixture
async def page(browser: Browser, playground: Playground) -> AsyncIterator[Page]:
    p = await browser.new_page(viewport={"width": 1280, "height": 1100})
    await p.goto(playground.url, wait_until="networkidle")
    yield p
    await p.close()


async def _type(page: Page, text: str) -> None:
    box = page.locator('[data-lexical-editor="true"][role="textbox"]')
    await box.click()
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def _carol_asks(sandbox: Sandbox, bot: RunningBot, playground: Playground, text: str) -> None:
    conversation = Conversation(GROUP_CHAT, "groupChat", sandbox.world.home_tenant_id)
    async with TeamsDriver(bot.messages_url, playground.service_url) as carol_client:
        await carol_client.say(sandbox.world.user("carol"), text, conversation)


def _latest_card(page: Page, title: str) -> Locator:
    return page.locator(".ac-adaptiveCard", has_text=title).last


async def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / name))


async def test_help_then_a_restart_approved_in_the_playground(
    sandbox: Sandbox, bot: RunningBot, playground: Playground, page: Page
) -> None:
    since = len(sandbox.arm.writes)
    await page.get_by_text("Personal Chat", exact=True).first.click()
    await _type(page, "help")
    await expect(page.get_by_text("status vm web-01", exact=False).first).to_be_visible(timeout=15000)
    await _shot(page, "playground-help.png")
    await page.get_by_text("Ops", exact=True).first.click()
    await _carol_asks(sandbox, bot, playground, "restart vm dev-01")
    card = _latest_card(page, "Execution plan: Restart VM dev-01")
    await expect(card).to_contain_text("Awaiting approval", timeout=15000)
    await expect(card).to_contain_text("Carol Requester")
    await _shot(page, "playground-plan-card.png")
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Succeeded", timeout=20000)
    await expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    reply = page.get_by_text("Succeeded", exact=False).last
    await expect(reply).to_be_visible()
    await expect(page.get_by_text("approved by Alice Admin", exact=False).last).to_be_visible(timeout=10000)
    await _shot(page, "playground-approved.png")
    writes = [w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/dev-01")]
    assert len(writes) == 1 and writes[0].caller_oid == sandbox.world.agent.object_id


async def test_deny_in_the_playground_writes_nothing(sandbox: Sandbox, bot: RunningBot, playground: Playground, page: Page) -> None:
    since = len(sandbox.arm.writes)
    await page.get_by_text("Ops", exact=True).first.click()
    await _carol_asks(sandbox, bot, playground, "deallocate vm dev-01")
    card = _latest_card(page, "Execution plan: Deallocate VM dev-01")
    await expect(card).to_contain_text("Awaiting approval", timeout=15000)
    await card.locator("input, textarea").first.click()
    await page.keyboard.type("Not during the release freeze")
    await card.get_by_role("button", name="Deny").click()
    await expect(card).to_contain_text("Denied", timeout=15000)
    await _shot(page, "playground-denied.png")
    await expect(page.get_by_text("Not during the release freeze", exact=False).last).to_be_visible(timeout=10000)
    assert sandbox.arm.writes[since:] == []
