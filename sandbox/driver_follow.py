"""Where the driver acts, and how it follows a conversation: each new reply and each new version of a card."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cli import DEMO_CHAT
from .driver import BotMessage, Conversation, TeamsDriver
from .views import describe_activity
from .world import World

POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Where:
    """The conversation the driver acts in: a group chat, or the incidents channel (every thread in it)."""

    conversation: Conversation
    label: str

    def holds(self, conversation_id: str) -> bool:
        if self.conversation.kind == "channel":
            return conversation_id.startswith(self.conversation.id + ";messageid=")
        return conversation_id == self.conversation.id


def where(args: argparse.Namespace, world: World, tenant_id: str) -> Where:
    if getattr(args, "personal", False) and getattr(args, "user", None) in world.users:
        user = world.user(args.user)
        return Where(TeamsDriver.personal(user), f"{args.user}'s 1:1 chat with the bot")
    if getattr(args, "approvals", False):
        channel = world.approvals_channel
        return Where(TeamsDriver.channel(channel, tenant_id), f"channel {channel.channel_name}")
    if getattr(args, "channel", False):
        channel = world.channels[0]
        return Where(TeamsDriver.channel(channel, tenant_id), f"channel {channel.channel_name}")
    name = getattr(args, "chat", None) or DEMO_CHAT
    return Where(TeamsDriver.group_chat(tenant_id, name), f"chat {name}")


def conversation_of(conversation_id: str, world: World, tenant_id: str) -> Conversation:
    """How a client addresses the conversation a card was posted in (a channel thread, a chat)."""
    for channel in world.channels:
        if conversation_id.startswith(channel.channel_id + ";messageid="):
            return TeamsDriver.channel(channel, tenant_id)
    kind = "personal" if conversation_id.startswith("a:") else "groupChat"
    return Conversation(conversation_id, kind, tenant_id)


@dataclass
class Follower:
    """Prints what is new in some conversations: new messages and each new version of an updated one."""

    driver: TeamsDriver
    holds: Any  # Callable[[str], bool]: which conversation ids to follow
    seen: dict[str, int] = field(default_factory=dict)  # activity id -> versions printed

    async def start(self, history: bool = False) -> None:
        for m in await self._messages():
            self.seen[m.id] = 0 if history else len(m.versions)

    async def _messages(self) -> list[BotMessage]:
        return [m for m in await self.driver.bot_messages() if self.holds(m.conversation_id)]

    async def poll(self) -> list[BotMessage]:
        """Print what changed since the last poll; returns the messages that changed."""
        changed = []
        for m in await self._messages():
            versions = m.versions or (m.activity,)
            for number in range(self.seen.get(m.id, 0), len(versions)):
                updated = f" (update {number})" if number else ""
                shown = versions[number]
                print(f"{sent_at(shown)} {thread_label(m)}{updated}: {describe_activity(shown)}", flush=True)
            if len(versions) > self.seen.get(m.id, 0):
                changed.append(m)
            self.seen[m.id] = len(versions)
        return changed

    async def follow(self, seconds: float, *, done: Any = None, already_done: bool = False) -> None:
        """Poll for `seconds`, or until `done(changed messages)` (or `already_done`) says the story is over and a
        second passed quietly."""
        deadline, finished_at = time.monotonic() + seconds, time.monotonic() if already_done else None
        while time.monotonic() < deadline:
            changed = await self.poll()
            if changed:
                finished_at = time.monotonic() if done and done(changed) else finished_at
            elif finished_at is not None and time.monotonic() - finished_at > 1.0:
                return
            await asyncio.sleep(POLL_SECONDS)


def sent_at(activity: dict[str, Any]) -> str:
    """When Teams took the message (or this version of it), in local time: the Connector's `timestamp`, so
    `watch --history` shows when each line was sent, not when it was printed."""
    stamp = str(activity.get("timestamp") or "")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return time.strftime("%H:%M:%S")


def thread_label(m: BotMessage) -> str:
    thread = m.conversation_id.split(";messageid=")
    where_ = f"thread {thread[1]}" if len(thread) > 1 else m.conversation_id
    return f"[{where_}]"
