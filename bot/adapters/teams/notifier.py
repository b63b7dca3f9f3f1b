"""Proactive messages to Teams through botbuilder's connector client (bot/adapters/conversation/notifier.py holds
the rules; the client is cached per service URL by our authentication)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botbuilder.schema import Activity, Attachment, ChannelAccount, ConversationParameters
from botframework.connector.aio import ConnectorClient

from ...domain.service_urls import ServiceUrlPolicy, UntrustedServiceUrl
from ..conversation.notifier import CardRenderer, ConnectorNotifier
from ..conversation.roster import ReadPace
from .auth import CachingBotFrameworkAuthentication

__all__ = ["CardRenderer", "TeamsNotifier", "UntrustedServiceUrl"]


class TeamsNotifier(ConnectorNotifier):
    """Notifier over the Bot Connector, through botbuilder's ConnectorClient."""

    activity_model, attachment_model, account_model, parameters_model = Activity, Attachment, ChannelAccount, ConversationParameters
    bot_field = "bot"

    def __init__(
        self,
        auth: CachingBotFrameworkAuthentication,
        claims_identity: Any,
        render: CardRenderer,
        bot_id: str,
        trusted: ServiceUrlPolicy,
        attempts: int = 4,
        pace: ReadPace | None = None,
    ) -> None:
        super().__init__(render, bot_id, trusted, auth.vouched_urls, attempts, pace)
        self._auth, self._claims = auth, claims_identity

    async def _connect(self, service_url: str) -> ConnectorClient:
        factory = self._auth.create_connector_factory(self._claims)
        return await factory.create(service_url, self._auth.get_originating_audience())

    @staticmethod
    def extra(member: Any) -> Mapping[str, object] | None:
        return member.additional_properties  # type: ignore[no-any-return]  # msrest keeps what its model does not name here
