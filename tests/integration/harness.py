"""Run the whole bot (real app, real adapters) on its own loop and port, and talk to it as Teams would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import create_app
from bot.bootstrap import Container, bootstrap
from bot.config import Settings
from bot.ports import Clock
from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, InvokeResult, TeamsDriver, execute_data
from sandbox.server import ServerThread
from sandbox.world import User


async def no_progress(_: str) -> None:
    """A run's progress callback, where the test does not look at progress."""


class ManualClock:
    """A clock the test moves forward (the only thing besides randomness tests may fake)."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class RunningBot:
    url: str
    container: Container
    thread: ServerThread

    @property
    def messages_url(self) -> str:
        return f"{self.url}/api/messages"

    def stop(self) -> None:
        self.thread.stop()

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until the bot has no work left in the background (executions, alerts in the inbox, messages in the
        outbox): what it was going to do after the last answer has been done, so asserting that nothing happened is
        meaningful."""

        async def idle() -> bool:
            return await asyncio.to_thread(self.thread.call, self.container.idle)

        await eventually(idle, "the bot's background work finishes", timeout)


def bot_sdk() -> str:
    """The SDK adapter the suite runs on: BOT_SDK=botbuilder (default) or BOT_SDK=agents (`BOT_SDK=agents make test`)."""
    return os.environ.get("BOT_SDK", "").strip().lower() or "botbuilder"


def bot_settings(box: Sandbox, store: Path, **overrides: str) -> Settings:
    env = {
        **box.bot_environment(),
        "BOT_SDK": bot_sdk(),
        "STORE_PATH": str(store),
        "ARM_POLLING_INTERVAL": "0.02",
        "PORT": "0",
        "HOST": "127.0.0.1",
        "SWEEP_INTERVAL_SECONDS": "0.1",
        **overrides,
    }
    return Settings.from_env(env)


def start_bot(settings: Settings, clock: Clock | None = None) -> RunningBot:
    thread = ServerThread("bot")

    async def build() -> Container:
        return bootstrap(settings, clock)

    container = thread.call(build)
    port = thread.serve(create_app(container))
    return RunningBot(f"http://127.0.0.1:{port}", container, thread)


def client_ssl(box: Sandbox) -> ssl.SSLContext:
    return box.tls.client_context()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll `check` until it holds (never a fixed sleep); fail naming `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout:g}s: {what}")
        await asyncio.sleep(0.02)


find_action = execute_data  # the data a click on `verb` sends, or None when the card has no such button


def card_text(card: Mapping[str, Any] | None) -> str:
    """All the text a person reads on a card (text blocks and facts)."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                parts.append(str(node.get("text", "")))
            if node.get("type") == "FactSet":
                parts.extend(f"{f.get('title')}: {f.get('value')}" for f in node.get("facts", []))
            for k, v in node.items():
                if k != "refresh":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    return "\n".join(parts)


class Teams:
    """Scenario helpers over the driver: ask for a plan, see the card as someone, click on it."""

    def __init__(self, driver: TeamsDriver, box: Sandbox) -> None:
        self.driver, self.box = driver, box

    def user(self, name: str) -> User:
        return self.box.world.user(name)

    async def ask(self, who: str, text: str, conversation: Conversation) -> BotMessage:
        """Send a command and return the plan card the bot posts for it."""
        sent = await self.driver.say(self.user(who), text, conversation)
        thread = sent["conversation"]["id"]
        return await self.driver.wait_for(lambda m: m.card is not None, conversation_id=thread)

    async def view(self, who: str, conversation: Conversation, card: BotMessage) -> dict[str, Any]:
        """The card as `who` sees it after Teams' automatic refresh."""
        data = find_action(card.card, "refresh")
        assert data is not None, "posted card has no refresh action"
        result = await self.driver.click(self.user(who), conversation, card, "refresh", data, trigger="automatic")
        assert result.type == "application/vnd.microsoft.card.adaptive", result.body
        value: dict[str, Any] = result.value
        return value

    async def sees(self, who: str, conversation: Conversation, card: BotMessage) -> dict[str, Any]:
        """The card as `who` sees it without a manual refresh: their own view only where their Teams client refreshes
        the card by itself (the card's `refresh.userIds`, or everyone in a conversation of at most 60)."""
        shown = await self.driver.shown(self.user(who), conversation, card)
        assert shown is not None, "the message shows no card"
        return shown

    async def click(
        self, who: str, conversation: Conversation, card: BotMessage, verb: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> InvokeResult:
        """Click `verb` as `who`, with the data of the button that `who` sees (or `data`)."""
        if data is None:
            data = find_action(await self.view(who, conversation, card), verb)
            assert data is not None, f"{who} sees no {verb} button"
        return await self.driver.click(self.user(who), conversation, card, verb, data, **kw)

    async def ask_then_stop(self, bot: RunningBot, who: str, text: str, conversation: Conversation) -> BotMessage:
        """Ask on `bot` (another instance than this helper's), then stop that instance: a restart follows."""
        async with self.box.driver(bot.messages_url) as d:
            card = await Teams(d, self.box).ask(who, text, conversation)
        bot.stop()
        return card

    async def card_now(self, card: BotMessage) -> dict[str, Any]:
        """The posted card as it is now (after updates)."""
        for m in await self.driver.bot_messages(card.conversation_id):
            if m.id == card.id:
                assert m.card is not None
                return m.card
        raise AssertionError("card vanished")

    async def wait_card(self, card: BotMessage, text: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the posted card shows `text`."""
        m = await self.driver.wait_for(
            lambda m: m.id == card.id and text in card_text(m.card), conversation_id=card.conversation_id, timeout=timeout
        )
        assert m.card is not None
        return m.card

    async def wait_reply(self, card: BotMessage, text: str, timeout: float = 10.0) -> BotMessage:
        """Wait for a plain message in the card's thread containing `text`."""
        return await self.driver.wait_for(
            lambda m: m.card is None and text in m.text, conversation_id=card.conversation_id, timeout=timeout
        )


async def approve_100_times_across(sandbox: Sandbox, messages_urls: list[str], chat: Conversation, vm: str, timeout: float) -> int:
    """carol asks for a restart of `vm`; alice's Approve is clicked 100 times at once, spread over every bot instance; each
    click is answered and the plan succeeds. Returns the VM's ARM writes before the clicks."""
    async with contextlib.AsyncExitStack() as stack:
        drivers: list[TeamsDriver] = [await stack.enter_async_context(sandbox.driver(url)) for url in messages_urls]
        teams = Teams(drivers[0], sandbox)
        card = await teams.ask("carol", f"restart vm {vm}", chat)
        approve = find_action(await teams.view("alice", chat, card), "approve")
        assert approve is not None
        before = sandbox.arm.writes_to(vm)
        alice = sandbox.world.user("alice")
        clicks = (drivers[i % len(drivers)].click(alice, chat, card, "approve", approve) for i in range(100))
        answers = await asyncio.gather(*clicks)
        assert [a.status for a in answers] == [200] * 100  # every click is answered; one of them approved the plan
        await teams.wait_card(card, "Succeeded", timeout=timeout)
    return before
