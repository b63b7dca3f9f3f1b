"""The Agents SDK adapter's parts for bootstrap (BOT_SDK=agents)."""

from __future__ import annotations

from ...config import Settings
from ..conversation.roster import ReadPace
from ..conversation.sdk import SdkParts
from .agent import AgentsEndpoint
from .auth import BotConnections, BotMsalAuth, ChannelAuthenticator, auth_configuration
from .connector import Connector
from .notifier import AgentsNotifier, CardRenderer


def build(settings: Settings, render: CardRenderer, pace: ReadPace) -> SdkParts:
    config = auth_configuration(settings.teams.app_id, settings.teams.app_password, settings.teams.app_tenant_id, settings.teams.channel)
    channel_auth = ChannelAuthenticator(config, settings.teams.channel, settings.azure.ca_bundle, settings.limits.outbound_timeout)
    provider = BotMsalAuth(config, settings.azure.ca_bundle, settings.limits.outbound_timeout)
    connector = Connector(provider if settings.teams.app_id else None, settings.limits.outbound_timeout)
    bot_id = f"28:{settings.teams.app_id}" if settings.teams.app_id else "28:sre-consent-bot"
    # botbuilder's msrest client retries 5xx itself (3 retries) under the outbox's own tries; the Agents SDK's client
    # does not, so the notifier does the same, for the same traffic to Teams (a 429 goes back to the outbox: paced)
    notifier = AgentsNotifier(connector, channel_auth, render, bot_id, settings.teams.service_urls, attempts=4, pace=pace)
    return SdkParts(
        notifier=notifier,
        endpoint_for=lambda c: AgentsEndpoint(c, channel_auth, BotConnections(provider), connector, settings.teams.channel),
        close=connector.close,
        auth=channel_auth,
    )
