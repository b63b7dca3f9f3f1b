"""The botbuilder adapter's parts for bootstrap (BOT_SDK=botbuilder)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.schema import Activity

from ...config import Settings
from ..conversation.roster import ReadPace
from ..conversation.sdk import SdkParts
from .adapter import create_adapter
from .bot import ConsentBot
from .invoke import UniversalActionResponse
from .notifier import CardRenderer, TeamsNotifier


class BotbuilderEndpoint:
    def __init__(self, adapter: Any, bot: ConsentBot) -> None:
        self.adapter, self.bot = adapter, bot

    async def process(self, request: web.Request) -> web.StreamResponse | None:
        """CloudAdapter.process's steps (bot/app.py has checked the body), with the card answer written as JSON
        directly (invoke.py); any other invoke response is serialized by botbuilder, as CloudAdapter does."""
        activity = Activity().deserialize(await request.json())
        try:
            answer = await self.adapter.process_activity(request.headers.get("Authorization", ""), activity, self.bot.on_turn)
        except PermissionError:  # a failed Bot Framework authentication, as CloudAdapter answers it
            raise web.HTTPUnauthorized() from None
        if not answer:
            return web.Response(status=201)
        body = answer.body.wire() if isinstance(answer.body, UniversalActionResponse) else serializer_helper(answer.body)
        return web.json_response(body, status=answer.status)


def build(settings: Settings, render: CardRenderer, pace: ReadPace) -> SdkParts:
    auth, adapter = create_adapter(
        settings.teams.app_id,
        settings.teams.app_password,
        settings.teams.app_type,
        settings.teams.app_tenant_id,
        settings.teams.channel,
        settings.azure.ca_bundle,
        settings.limits.outbound_timeout,
    )
    bot_id = f"28:{settings.teams.app_id}" if settings.teams.app_id else "28:sre-consent-bot"
    notifier = TeamsNotifier(
        auth,
        adapter.create_claims_identity(settings.teams.app_id or ""),
        render,
        bot_id,
        settings.teams.service_urls,
        attempts=1,
        pace=pace,
    )  # one try per send: the outbox worker tries again, durably
    return SdkParts(
        notifier=notifier, endpoint_for=lambda c: BotbuilderEndpoint(adapter, ConsentBot(c)), close=auth.close, auth=auth, adapter=adapter
    )
