"""What each SDK adapter hands to bootstrap: its notifier, its /api/messages endpoint, and what to close."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from ...ports import Notifier
from .core import Conversation


class Endpoint(Protocol):
    """/api/messages on one SDK: authenticate the activity, run the turn, answer.

    Raises web.HTTPUnauthorized when Bot Framework authentication refuses the activity (nothing was processed)."""

    async def process(self, request: web.Request) -> web.StreamResponse | None: ...


@dataclass
class SdkParts:
    notifier: Notifier
    endpoint_for: Callable[[Conversation], Endpoint]  # the conversation needs the services, which need the notifier
    close: Callable[[], Awaitable[None]]
    auth: Any = None  # the SDK's authentication object (botbuilder: CachingBotFrameworkAuthentication)
    adapter: Any = None  # the SDK's adapter (botbuilder: CloudAdapter)


# BOT_SDK -> the adapter's module; imported only when chosen, so the other SDK need not even be loaded
SDK_MODULES = {"botbuilder": "bot.adapters.teams.sdk", "agents": "bot.adapters.agents.sdk"}


def load_sdk(bot_sdk: str, settings: Any, render: Any, pace: Any) -> SdkParts:
    """The parts of the SDK adapter BOT_SDK names, built from the settings, the card renderer and the pace of member
    reads (the outbox's, shared by the instances)."""
    parts: SdkParts = importlib.import_module(SDK_MODULES[bot_sdk]).build(settings, render, pace)
    return parts
