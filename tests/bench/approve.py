"""The Approve load's setup: one plan per approver, each proposed in a chat of its own by another person, its card
posted and viewed (the refresh invoke) before the clock starts; the load is each approver's click on the Approve
button their card showed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver, execute_data
from sandbox.world import HOME_TENANT_ID, User, demo_world

from .loads import answers, fire


def bench_world(people: int) -> tuple[Any, list[User]]:
    """The demo world with `people` more people in the home tenant: the approvers, and the senders of the loads."""
    world = demo_world()
    added = [User(f"approver{i:03d}", f"Approver {i:03d}", HOME_TENANT_ID, "contoso.example") for i in range(people)]
    for p in added:
        world.users[p.name] = p
    return world, added


async def bot_messages(box: Sandbox) -> list[Any]:
    """What the bots posted, read from the Connector simulator on its own loop (its list grows into the thousands)."""

    async def snapshot() -> list[Any]:
        return list(box.connector.activities.values())

    return await asyncio.to_thread(box.thread.call, snapshot)


async def _with_cards(box: Sandbox, chats: list[Conversation]) -> dict[str, Any]:
    """The latest plan card posted in each of `chats`."""
    wanted = {c.id for c in chats}
    return {a.conversation_id: a for a in await bot_messages(box) if a.conversation_id in wanted and a.activity.get("attachments")}


async def _wait_for_cards(box: Sandbox, chats: list[Conversation], seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while len(cards := await _with_cards(box, chats)) < len(chats) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return cards


async def plans_to_approve(box: Sandbox, url: str, key: str, approvers: list[User]) -> list[dict[str, Any]]:
    """One plan per approver (proposed by the next person, in a chat of its own), and the Approve click each
    approver's card offers."""
    chats = [TeamsDriver.group_chat(HOME_TENANT_ID, f"approve-{key}-{i}") for i in range(len(approvers))]
    proposer = {c.id: approvers[(i + 1) % len(approvers)] for i, c in enumerate(chats)}
    async with box.driver(url) as driver:
        for attempt in range(3):  # a request the loaded machine failed (a 5xx, a timeout) is asked again
            have = await _with_cards(box, chats)
            asked = [driver.message(proposer[c.id], "restart vm dev-01", c) for c in chats if c.id not in have]
            if not asked:
                break
            await fire(asked, answers(driver, invoke=False), 16)
            if len(await _wait_for_cards(box, chats, 60.0 if attempt < 2 else 240.0)) == len(chats):
                break
        cards = await _with_cards(box, chats)
        if len(cards) < len(chats):  # a bot that lost a proposal fails the bench
            raise RuntimeError(f"{key}: {len(chats) - len(cards)} of {len(chats)} plan cards never posted")
        clicks: list[dict[str, Any]] = []
        for approver, chat in zip(approvers, chats, strict=True):
            if chat.id not in cards:
                continue
            posted = cards[chat.id]
            refresh = execute_data(posted.activity["attachments"][0]["content"], "refresh")
            for _ in range(3):  # a view the loaded machine failed (a 5xx, a timeout) is asked again
                view = await driver.post(
                    driver.invoke(approver, chat, chat.id, posted.id, "refresh", dict(refresh or {}), trigger="automatic")
                )
                if (approve := execute_data(view.value, "approve")) is not None:
                    break
            if approve is None:
                raise RuntimeError(f"{key}: {approver.name} saw no Approve button on {chat.id}: {str(view.body)[:200]}")
            clicks.append(driver.invoke(approver, chat, chat.id, posted.id, "approve", approve))
        return clicks
