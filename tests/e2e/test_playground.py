"""The README's Agents Playground section, run as written, through Microsoft's own Teams-like client in headless Chromium.

`sre-consent-bot sandbox --anonymous` (the Playground cannot sign activities: no MicrosoftAppId, ANONYMOUS_ALLOWED,
loopback only) writes `.sandbox/playground.yml`; the Playground runs with it, its current user alice (an approver).
The Playground has only that one person, so the second person, carol, asks with `driver say --playground`: her
message reaches the bot as the Playground's own do, and the bot answers in the Playground's group chat "Ops", where
alice approves. The bot finds its approvers in the Playground's roster (paged members, `aadObjectId`; its non-paged
roster names them `objectId`) and has an approvals channel in the Playground's team. The Playground has no
user-specific card views, so the sandbox runs with CARD_BUTTONS=everyone.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from bot.domain import messages

from .playground import Playground, start_playground
from .sandbox_cli import SandboxProcess, start_sandbox

SHOTS = os.environ.get("SCREENSHOTS_DIR")
NOBODY = messages.NOBODY_CAN_APPROVE[:60]  # what the bot says where it finds no approver


@pytest.fixture(scope="module")
def anonymous_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    box = start_sandbox(tmp_path_factory.mktemp("clone"), "--anonymous")
    yield box
    box.stop()


@pytest.fixture(scope="module")
def playground(anonymous_sandbox: SandboxProcess) -> Iterator[Playground]:
    box = anonymous_sandbox
    pg = start_playground(box.folder / "playground", box.messages_url, box.playground_config)
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


def _carol_asks(box: SandboxProcess, playground: Playground, text: str) -> None:
    """The README's second person: `driver say --as carol --playground TEXT` (the Playground on a free port here)."""
    said = box.cli("driver", "say", "--playground-url", playground.service_url, "--as", "carol", "--playground", text)
    assert said.returncode == 0, said.stdout + said.stderr


def _latest_card(page: Page, title: str) -> Locator:
    return page.locator(".ac-adaptiveCard", has_text=title).last


async def _shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / name))


async def test_help_then_a_restart_approved_in_the_playground(
    anonymous_sandbox: SandboxProcess, playground: Playground, page: Page
) -> None:
    await page.get_by_text("Personal Chat", exact=True).first.click()
    await _type(page, "help")
    await expect(page.get_by_text("status vm web-01", exact=False).first).to_be_visible(timeout=15000)
    await _shot(page, "playground-help.png")
    await page.get_by_text("Ops", exact=True).first.click()
    _carol_asks(anonymous_sandbox, playground, "restart vm dev-01")
    card = _latest_card(page, "Execution plan: Restart VM dev-01")
    await expect(card).to_contain_text("Awaiting approval", timeout=15000)
    await expect(card).to_contain_text("Carol Requester")
    await _shot(page, "playground-plan-card.png")
    await card.get_by_role("button", name="Approve").click()
    await expect(card).to_contain_text("Succeeded", timeout=20000)
    await expect(card.get_by_role("button", name="Approve")).to_have_count(0)
    await expect(page.get_by_text("approved by Alice Admin", exact=False).last).to_be_visible(timeout=10000)
    await expect(page.get_by_text("the agent identity", exact=False).last).to_be_visible()
    await _shot(page, "playground-approved.png")
    # the bot found alice and bob, approvers, in the group chat's roster: it never said nobody could approve there
    await expect(page.get_by_text(NOBODY, exact=False)).to_have_count(0)


async def test_deny_in_the_playground(anonymous_sandbox: SandboxProcess, playground: Playground, page: Page) -> None:
    await page.get_by_text("Ops", exact=True).first.click()
    _carol_asks(anonymous_sandbox, playground, "deallocate vm dev-01")
    card = _latest_card(page, "Execution plan: Deallocate VM dev-01")
    await expect(card).to_contain_text("Awaiting approval", timeout=15000)
    await card.locator("input, textarea").first.click()
    await page.keyboard.type("Not during the release freeze")
    await card.get_by_role("button", name="Deny").click()
    await expect(card).to_contain_text("Denied", timeout=15000)
    await _shot(page, "playground-denied.png")
    await expect(page.get_by_text("Not during the release freeze", exact=False).last).to_be_visible(timeout=10000)


async def test_a_plan_asked_in_the_personal_chat_goes_to_the_approvals_channel_of_the_playground_s_team(
    anonymous_sandbox: SandboxProcess, playground: Playground, page: Page
) -> None:
    """alice asks in her personal chat, where nobody else can approve it: the card goes to the SRE team's Approvals
    channel (APPROVALS_CHANNEL of the anonymous sandbox), on the Playground, and she gets a link to it."""
    await page.get_by_text("Personal Chat", exact=True).first.click()
    await _type(page, "restart vm web-02")
    await expect(page.get_by_text("posted the plan", exact=False).last).to_be_visible(timeout=15000)
    await expect(page.get_by_text(NOBODY, exact=False)).to_have_count(0)
    await page.get_by_text("Approvals", exact=True).first.click()
    card = _latest_card(page, "Execution plan: Restart VM web-02")
    await expect(card).to_contain_text("Awaiting approval", timeout=15000)
    await expect(card).to_contain_text("Alice Admin")
