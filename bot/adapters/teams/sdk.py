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
        settings.app_id,
        settings.app_password,
        settings.app_type,
        settings.app_tenant_id,
        settings.channel,
        settings.ca_bundle,
        settings.outbound_timeout,
    )
    bot_id = f"28:{settings.app_id}" if settings.app_id else "28:sre-consent-bot"
    notifier = TeamsNotifier(
        auth, adapter.create_claims_identity(settings.app_id or ""), render, bot_id, settings.service_urls, attempts=1
    )  # one try per send: the outbox worker tries again, durably
    return SdkParts(
        notifier=notifier, endpoint_for=lambda c: BotbuilderEndpoint(adapter, ConsentBot(c)), close=auth.close, auth=auth, adapter=adapter
    )
