"""botbuilder glue: an ActivityHandler that hands messages and card clicks to the SDK-neutral conversation.

It turns botbuilder's TurnContext into a `Turn` (the activity's fields, the member lookup, the token
service client, replies) and the conversation's Answer into botbuilder's InvokeResponse.
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import ActivityHandler, BotAdapter, CloudAdapterBase, InvokeResponse, MessageFactory, TurnContext
from botframework.connector.auth import AuthenticationConstants, UserTokenClient
from botframework.connector.models import ErrorResponseException

from ..conversation.core import ADAPTIVE_CARD_ACTION, Conversation
from ..conversation.turn import Incoming, Sender, Turn
from . import invoke
from .people import ConnectorMembers

log = logging.getLogger(__name__)


def incoming_of(activity: Any, text: str | None = None) -> Incoming:
    conv, sender = activity.conversation, activity.from_property
    data_tenant = (activity.channel_data or {}).get("tenant", {}).get("id") if isinstance(activity.channel_data, dict) else None
    return Incoming(
        type=str(activity.type or ""),
        channel_id=str(activity.channel_id or ""),
        service_url=str(activity.service_url or ""),
        conversation_id=str(conv.id) if conv is not None else "",
        conversation_type=conv.conversation_type if conv is not None else None,
        is_group=bool(conv.is_group) if conv is not None else False,
        conversation_tenant_id=(conv.tenant_id if conv is not None else None) or "",
        data_tenant_id=data_tenant or "",
        sender=Sender(str(sender.id or ""), getattr(sender, "aad_object_id", None), sender.name) if sender else None,
        activity_id=activity.id,
        name=activity.name,
        text=text if text is not None else activity.text or "",
        raw_text=activity.text or "",
        value=activity.value,
        action=str(getattr(activity, "action", None) or ""),
        members_added=tuple(str(m.id or "") for m in (getattr(activity, "members_added", None) or [])),
    )


class _Replies:
    def __init__(self, turn_context: TurnContext) -> None:
        self._turn_context = turn_context

    async def reply(self, text: str) -> None:
        """A best-effort reply in the turn (the rate limit's TOO_FAST): one try. A reply Teams refuses (429 when the
        conversation is over Teams' limits, which a flood makes likely) is dropped and logged, so the turn still ends
        well; answers that must arrive go through the outbox."""
        try:
            await self._turn_context.send_activity(MessageFactory.text(text))
        except ErrorResponseException as e:
            status = e.response.status_code if e.response is not None else None
            log.warning("an in-turn reply was refused by Teams (HTTP %s); dropped", status, extra={"event": "reply_dropped"})


class _UserTokens:
    """The token service through botbuilder's UserTokenClient (created by CloudAdapter for the turn)."""

    def __init__(self, client: UserTokenClient, turn_context: TurnContext) -> None:
        self._client, self._turn_context = client, turn_context

    async def sign_in_link(self, connection_name: str) -> str | None:
        resource = await self._client.get_sign_in_resource(connection_name, self._turn_context.activity, None)
        link = getattr(resource, "sign_in_link", None)
        return link if isinstance(link, str) else None

    async def token_for_code(self, connection_name: str, code: str) -> str | None:
        activity = self._turn_context.activity
        response = await self._client.get_user_token(activity.from_property.id, connection_name, activity.channel_id, code)
        token = getattr(response, "token", None)
        return token if isinstance(token, str) else None

    async def sign_out(self, connection_name: str) -> None:
        activity = self._turn_context.activity
        await self._client.sign_out_user(activity.from_property.id, connection_name, activity.channel_id)


def turn_of(turn_context: TurnContext, text: str | None = None) -> Turn:
    client = turn_context.turn_state.get(CloudAdapterBase.USER_TOKEN_CLIENT_KEY)
    identity = turn_context.turn_state.get(BotAdapter.BOT_IDENTITY_KEY)
    return Turn(
        incoming=incoming_of(turn_context.activity, text),
        members=ConnectorMembers(turn_context),
        replies=_Replies(turn_context),
        tokens=_UserTokens(client, turn_context) if isinstance(client, UserTokenClient) else None,
        anonymous=getattr(identity, "authentication_type", None) == AuthenticationConstants.ANONYMOUS_AUTH_TYPE,
    )


class ConsentBot(ActivityHandler):
    """Messages and `adaptiveCard/action` invokes to the conversation; other invokes as botbuilder answers them."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = TurnContext.remove_recipient_mention(activity) if activity.entities else activity.text
        await self.conversation.on_message(turn_of(turn_context, text or ""))

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        await self.conversation.on_event(turn_of(turn_context))

    async def on_installation_update(self, turn_context: TurnContext) -> None:
        await self.conversation.on_event(turn_of(turn_context))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name != ADAPTIVE_CARD_ACTION:
            return await super().on_invoke_activity(turn_context)  # type: ignore[no-any-return]
        return invoke.response(await self.conversation.on_card_action(turn_of(turn_context)))
