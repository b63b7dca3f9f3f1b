"""Proactive messages to Teams through botbuilder's connector client (bot/adapters/conversation/notifier.py holds
the rules; the client is cached per service URL by our authentication)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from botbuilder.schema import Activity, Attachment, ChannelAccount, ConversationParameters
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import HttpOperationError

from ...domain.service_urls import ServiceUrlPolicy, UntrustedServiceUrl
from ..conversation.notifier import READ_ATTEMPTS, CardRenderer, ConnectorNotifier, with_retries
from ..conversation.roster import ReadPace
from .auth import CachingBotFrameworkAuthentication

__all__ = ["CardRenderer", "TeamsNotifier", "UntrustedServiceUrl", "read"]
T = TypeVar("T")


def refusal(error: BaseException) -> tuple[int, str | None] | None:
    # ErrorResponseException too; the paged members call raises the base class
    if isinstance(error, HttpOperationError) and error.response is not None:
        return error.response.status_code, error.response.headers.get("Retry-After")
    return None


async def read(call: Callable[[], Awaitable[T]]) -> T:
    """A read in a turn (the member lookup): a 429 in a busy channel is waited out, not a refusal."""
    return await with_retries(call, READ_ATTEMPTS, refusal)


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

    refusal = staticmethod(refusal)

    @staticmethod
    def extra(member: Any) -> Mapping[str, object] | None:
        return member.additional_properties  # type: ignore[no-any-return]  # msrest keeps what its model does not name here
