"""Agents SDK glue: an AgentApplication whose routes hand messages and card clicks to the SDK-neutral conversation.

The SDK's routing selects the activity (`message`, the `adaptiveCard/action` invoke); the conversation's own
router then selects the handler by the typed click's verb or the command's type, after the rate limit and the
person check. The SDK's `adaptive_card.action_execute(verb)` is not used: it answers an action that is not an
Action.Execute with its own error before any of our checks or audit. Its auth handlers are not used either: they
answer with an OAuthCard message, where Universal Actions need the `401 loginRequest` invoke response
(https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/sso-adaptive-cards-universal-actions);
the conversation builds that answer and the token-service fallback itself, on the SDK's UserTokenClient.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web
from microsoft_agents.activity import Activity, ActivityTypes, InvokeResponse
from microsoft_agents.hosting.aiohttp import CloudAdapter, start_agent_process
from microsoft_agents.hosting.core import (
    AgentApplication,
    ApplicationOptions,
    ConnectorClientBase,
    MemoryStorage,
    MessageFactory,
    TurnContext,
    TurnState,
    UserTokenClientBase,
)

from ...config import ChannelEndpoints
from ..conversation.answers import Answer, wire
from ..conversation.core import ADAPTIVE_CARD_ACTION, TURN_FAILED, Conversation
from ..conversation.notifier import read
from ..conversation.roster import object_id_of
from ..conversation.turn import Incoming, Member, MemberNotConfirmed, Sender, Turn
from .auth import PUBLIC_SCOPE, PUBLIC_TOKEN_SERVICE, BotConnections, ChannelAuthenticator, ChannelAuthRefused
from .connector import ChannelClients, Connector

log = logging.getLogger(__name__)


def incoming_of(activity: Activity) -> Incoming:
    conv, sender = activity.conversation, activity.from_property
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    return Incoming(
        type=str(activity.type or ""),
        channel_id=str(activity.channel_id or ""),
        service_url=str(activity.service_url or ""),
        conversation_id=str(conv.id) if conv is not None and conv.id else "",
        conversation_type=conv.conversation_type if conv is not None else None,
        is_group=bool(conv.is_group) if conv is not None else False,
        conversation_tenant_id=(conv.tenant_id if conv is not None else None) or "",
        data_tenant_id=str(tenant.get("id") or ""),
        sender=Sender(str(sender.id or ""), sender.aad_object_id, sender.name) if sender is not None else None,
        activity_id=activity.id,
        name=activity.name,
        text=activity.text or "",
        raw_text=activity.text or "",
        value=activity.value,
        action=str(activity.action or ""),
        members_added=tuple(str(m.id or "") for m in (activity.members_added or [])),
    )


class _Members:
    def __init__(self, context: TurnContext) -> None:
        self._context = context

    async def member(self, user_id: str) -> Member:
        client: Any = self._context.services.get(ConnectorClientBase)
        if client is None:
            raise MemberNotConfirmed(None)
        try:
            conversation_id = self._context.activity.conversation.id
            account = await read(lambda: client.get_conversation_member(conversation_id, user_id))
        except aiohttp.ClientResponseError as e:
            raise MemberNotConfirmed(e.status) from None
        oid = object_id_of(account.aad_object_id, account.model_extra)  # `objectId` where Teams names it so
        return Member(oid, str(account.tenant_id or ""), str(account.user_role or "user").lower())


class _Replies:
    def __init__(self, context: TurnContext) -> None:
        self._context = context

    async def reply(self, text: str) -> None:
        """A best-effort reply in the turn (the rate limit's TOO_FAST): one try, no waiting out `Retry-After` while the
        channel waits for the turn. A reply Teams refuses (429 when the conversation is over Teams' limits, which a
        flood makes likely) is dropped and logged; answers that must arrive go through the outbox."""
        try:
            await self._context.send_activity(MessageFactory.text(text))
        except aiohttp.ClientResponseError as e:
            log.warning("an in-turn reply was refused by Teams (HTTP %s); dropped", e.status, extra={"event": "reply_dropped"})


class _UserTokens:
    """The token service through the SDK's UserTokenClient (made by the adapter for the turn)."""

    def __init__(self, client: Any, context: TurnContext) -> None:
        self._client, self._context = client, context

    async def sign_in_link(self, connection_name: str) -> str | None:
        resource = await self._client.get_sign_in_resource(connection_name, self._context.activity, None)
        link = getattr(resource, "sign_in_link", None)
        return link if isinstance(link, str) else None

    async def token_for_code(self, connection_name: str, code: str) -> str | None:
        activity = self._context.activity
        response = await self._client.get_user_token(activity.from_property.id, connection_name, str(activity.channel_id), code)
        token = getattr(response, "token", None)
        return token if isinstance(token, str) else None

    async def sign_out(self, connection_name: str) -> None:
        activity = self._context.activity
        await self._client.sign_out_user(activity.from_property.id, connection_name, str(activity.channel_id))


def turn_of(context: TurnContext) -> Turn:
    client = context.services.get(UserTokenClientBase)
    identity = context.identity
    return Turn(
        incoming=incoming_of(context.activity),
        members=_Members(context),
        replies=_Replies(context),
        tokens=_UserTokens(client, context) if client is not None else None,
        anonymous=identity is None or identity.allow_anonymous,
    )


def invoke_response(answer: Answer) -> Activity:
    """The Universal Actions answer as the SDK's invoke response: HTTP 200, the outcome in the body's statusCode."""
    status_code, type_, value = wire(answer)
    body = {"statusCode": status_code, "type": type_}
    if value is not None:
        body["value"] = value
    return Activity(type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body))


async def _on_turn_error(context: TurnContext, error: Exception) -> None:
    """Log the failure in full; tell the person plainly, never with the exception text (the SDK's default sends it)."""
    log.error("turn failed", exc_info=error)
    if context.activity.type == ActivityTypes.message:
        try:
            await context.send_activity(MessageFactory.text(TURN_FAILED))
        except Exception:  # Teams refused it too (429 in a flood): the turn still ends well, the failure is logged
            log.warning("the turn-failed notice could not be sent; dropped", exc_info=True)


class AgentsEndpoint:
    """/api/messages on the Agents SDK: channel authentication, then the SDK's adapter and application."""

    def __init__(
        self,
        conversation: Conversation,
        channel_auth: ChannelAuthenticator,
        connections: BotConnections,
        connector: Connector,
        channel: ChannelEndpoints,
    ) -> None:
        self.conversation, self.channel_auth = conversation, channel_auth
        factory = ChannelClients(
            connector,
            connections,
            token_service_endpoint=channel.oauth_url or PUBLIC_TOKEN_SERVICE,
            token_service_audience=channel.oauth_scope or PUBLIC_SCOPE,
        )
        self.adapter = CloudAdapter(channel_service_client_factory=factory)
        self.adapter.on_turn_error = _on_turn_error
        # no typing indicator (the bot answers at once), mentions removed by the SDK; its storage holds no state of ours
        options = ApplicationOptions(storage=MemoryStorage(), start_typing_timer=False, remove_recipient_mention=True)
        self.app: AgentApplication[TurnState] = AgentApplication(options, connection_manager=connections)

        @self.app.activity(ActivityTypes.message)
        async def on_message(context: TurnContext, state: TurnState) -> None:
            await self.conversation.on_message(turn_of(context))

        @self.app.activity(ActivityTypes.installation_update)
        async def on_installation_update(context: TurnContext, state: TurnState) -> None:
            await self.conversation.on_event(turn_of(context))

        @self.app.activity(ActivityTypes.conversation_update)
        async def on_conversation_update(context: TurnContext, state: TurnState) -> None:
            await self.conversation.on_event(turn_of(context))

        @self.app.invoke(ADAPTIVE_CARD_ACTION)
        async def on_card_action(context: TurnContext, state: TurnState) -> None:
            await context.send_activity(invoke_response(await self.conversation.on_card_action(turn_of(context))))

    async def process(self, request: web.Request) -> web.StreamResponse | None:
        body = await request.json()
        try:
            identity = await self.channel_auth.authenticate(request.headers.get("Authorization"), body)
        except ChannelAuthRefused:
            raise web.HTTPUnauthorized() from None
        request["claims_identity"] = identity  # noqa: RUF100 - the key the SDK's JWT middleware sets and its adapter reads
        return await start_agent_process(request, self.app, self.adapter)
