"""The Bot Framework adapter: CloudAdapter over our caching authentication, with a plain-words turn error."""

from __future__ import annotations

import logging

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter

from .auth import CachingBotFrameworkAuthentication

log = logging.getLogger(__name__)


class _BotFrameworkConfig:
    """The attribute names botbuilder's ConfigurationBotFrameworkAuthentication reads."""

    def __init__(self, app_id: str, app_password: str, app_type: str, tenant_id: str) -> None:
        self.APP_ID = app_id or None
        self.APP_PASSWORD = app_password or None
        self.APP_TYPE = app_type if app_id else "MultiTenant"  # no app id: anonymous, local clients only
        self.APP_TENANTID = tenant_id or None


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    """Log the failure in full; tell the person plainly, never with a stack trace."""
    log.error("turn failed", exc_info=error)
    if turn_context.activity.type == "message":
        await turn_context.send_activity("Something went wrong on my side; nothing was changed. The error was logged.")


def create_adapter(app_id: str, app_password: str, app_type: str, tenant_id: str) -> tuple[CachingBotFrameworkAuthentication,
                                                                                             CloudAdapter]:
    auth = CachingBotFrameworkAuthentication(_BotFrameworkConfig(app_id, app_password, app_type, tenant_id))
    adapter = CloudAdapter(auth)
    adapter.on_turn_error = _on_turn_error
    return auth, adapter
