"""The botbuilder adapter's parts for bootstrap (BOT_SDK=botbuilder)."""

from __future__ import annotations

from aiohttp import web

from ...config import Settings
from ..conversation.sdk import SdkParts
from .adapter import create_adapter
from .bot import ConsentBot
from .notifier import CardRenderer, TeamsNotifier


class BotbuilderEndpoint:
    def __init__(self, adapter: object, bot: ConsentBot) -> None:
        self.adapter, self.bot = adapter, bot

    async def process(self, request: web.Request) -> web.StreamResponse | None:
        # CloudAdapter answers a failed Bot Framework authentication with web.HTTPUnauthorized
        return await self.adapter.process(request, self.bot)  # type: ignore[attr-defined,no-any-return]


def build(settings: Settings, render: CardRenderer) -> SdkParts:
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
        auth, adapter.create_claims_identity(settings.teams.app_id or ""), render, bot_id, settings.teams.service_urls, attempts=1
    )  # one try per send: the outbox worker tries again, durably
    return SdkParts(
        notifier=notifier, endpoint_for=lambda c: BotbuilderEndpoint(adapter, ConsentBot(c)), close=auth.close, auth=auth, adapter=adapter
    )
