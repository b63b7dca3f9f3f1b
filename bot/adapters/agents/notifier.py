"""Proactive messages to Teams through the Agents SDK's connector client (bot/adapters/conversation/notifier.py holds
the rules; the client comes from our Connector, over a kept session per service URL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from microsoft_agents.activity import Activity, Attachment, ChannelAccount, ConversationParameters
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from ...domain.service_urls import ServiceUrlPolicy
from ..conversation.notifier import CardRenderer, ConnectorNotifier
from ..conversation.roster import ReadPace
from .auth import ChannelAuthenticator
from .connector import Connector

__all__ = ["AgentsNotifier", "CardRenderer"]


class AgentsNotifier(ConnectorNotifier):
    """Notifier over the Bot Connector, through the Agents SDK's connector client."""

    activity_model, attachment_model, account_model, parameters_model = Activity, Attachment, ChannelAccount, ConversationParameters
    bot_field = "agent"

    def __init__(
        self,
        connector: Connector,
        channel_auth: ChannelAuthenticator,
        render: CardRenderer,
        bot_id: str,
        trusted: ServiceUrlPolicy,
        attempts: int = 1,
        pace: ReadPace | None = None,
    ) -> None:
        # one try per send by default: the outbox worker tries again, durably
        super().__init__(render, bot_id, trusted, channel_auth.vouched_urls, attempts, pace)
        self._connector = connector

    async def _connect(self, service_url: str) -> TeamsConnectorClient:
        return await self._connector.client(service_url)

    @staticmethod
    def extra(member: Any) -> Mapping[str, object] | None:
        return member.model_extra  # type: ignore[no-any-return]  # pydantic keeps what its model does not name here
