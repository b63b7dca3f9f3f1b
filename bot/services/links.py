"""Deep links to a plan's card, for people who are told about a plan somewhere else than where its card is."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from ..domain.plan import Thread, ThreadKind

TEAMS_WEB = "https://teams.microsoft.com"


def card_link(thread: Thread | None) -> str | None:
    """The Teams deep link to the card posted as the first message of a channel thread (or in a chat: `linkable`), or
    None while the card is not posted yet (or where Teams documents no link).

    The format is Microsoft's "deep link to navigate to channel conversation":
    https://teams.microsoft.com/l/message/<channelId>/<parentMessageId>?tenantId=<tenantId>&groupId=<groupId>
    &parentMessageId=<parentMessageId>&teamName=<teamName>&channelName=<channelName>&createdTime=<createdTime>
    (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/deep-link-teams#deep-link-to-navigate-to-channel-conversation).
    The bot knows the channel, the thread's root message and the tenant; the team's group id and names are optional
    for Teams to open the message, and a channel message id is its creation time in milliseconds.
    """
    if thread is None or not thread.card_activity_id:
        return None
    if thread.kind != ThreadKind.CHANNEL:
        return _chat_message_link(thread, thread.card_activity_id)
    channel, _, root = thread.conversation_id.partition(";messageid=")
    parent = root or thread.card_activity_id
    query = {"tenantId": thread.tenant_id, "parentMessageId": parent}
    if thread.card_activity_id.isdigit():
        query["createdTime"] = thread.card_activity_id
    return f"{TEAMS_WEB}/l/message/{quote(channel, safe='')}/{quote(thread.card_activity_id, safe='')}?{urlencode(query)}"


def linkable(thread: Thread | None) -> bool:
    """Teams documents a deep link to a message in a channel, or in a chat whose id is 19:... (a group chat, a chat
    between people); not in a bot's personal chat (a:...)."""
    return thread is not None and (thread.kind == ThreadKind.CHANNEL or thread.conversation_id.startswith("19:"))


def _chat_message_link(thread: Thread, message_id: str) -> str | None:
    """Microsoft's "deep link to navigate to chat messages":
    https://teams.microsoft.com/l/message/{chatId}/{messageId}?tenantId=<tenantId>&context={"contextType":"chat"}
    (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/deep-link-teams#deep-link-to-navigate-to-chat-messages),
    for chat ids of the 19:... form only."""
    if not linkable(thread):
        return None
    context = json.dumps({"contextType": "chat"}, separators=(",", ":"))
    query = urlencode({**({"tenantId": thread.tenant_id} if thread.tenant_id else {}), "context": context})
    return f"{TEAMS_WEB}/l/message/{quote(thread.conversation_id, safe='')}/{quote(message_id, safe='')}?{query}"
