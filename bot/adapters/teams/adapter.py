"""The Bot Framework adapter: CloudAdapter over our caching authentication, with a plain-words turn error."""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from ...config import ChannelEndpoints
from .auth import CachingBotFrameworkAuthentication

log = logging.getLogger(__name__)


class _BotFrameworkConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads.

    The five endpoints are botbuilder's parameterized authentication: all None means the public
    cloud's; the sandbox and sovereign clouds set all five (bot/config/teams.py refuses a partial set).
    """

    def __init__(self, app_id: str, app_password: str, app_type: str, tenant_id: str, channel: ChannelEndpoints) -> None:
        self.APP_ID = app_id or None
        self.APP_PASSWORD = app_password or None
        self.APP_TYPE = app_type if app_id else "MultiTenant"  # no app id: anonymous, local clients only
        self.APP_TENANTID = tenant_id or None
        self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = channel.openid_metadata_url or None
        self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = channel.token_issuer or None
        self.TO_CHANNEL_FROM_BOT_LOGIN_URL = channel.login_url or None
        self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = channel.oauth_scope or None
        self.OAUTH_URL = channel.oauth_url or None


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """Log the failure in full; tell the person plainly, never with a stack trace."""
    log.error("turn failed", exc_info=error)
    if turn_context.activity.type == "message":
        try:
            await turn_context.send_activity("Something went wrong on my side; nothing was changed. The error was logged.")
        except Exception:  # Teams refused it too (429 in a flood): the turn still ends with 200, the failure is logged
            log.warning("the turn-failed notice could not be sent; dropped", exc_info=True)


def create_adapter(
    app_id: str,
    app_password: str,
    app_type: str,
    tenant_id: str,
    channel: ChannelEndpoints | None = None,
    ca_bundle: str | None = None,
    timeout: float = 30.0,
) -> tuple[CachingBotFrameworkAuthentication, CloudAdapter]:
    config = _BotFrameworkConfig(app_id, app_password, app_type, tenant_id, channel or ChannelEndpoints())
    auth = CachingBotFrameworkAuthentication(config, ca_bundle, timeout)
    adapter = CloudAdapter(auth)
    adapter.on_turn_error = _on_turn_error
    return auth, adapter
