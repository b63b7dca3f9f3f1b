"""Deep links to a plan's card, for people who are told about a plan somewhere else than where its card is."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from ..domain.plan import Thread, ThreadKind

TEAMS_WEB = "https://teams.microsoft.com"


def card_link(thread: Thread | None) -> str | None:
    """The Teams deep link to the card posted as the first message of a channel thread, or None while the card is not
    posted yet (or not in a channel).

    The format is Microsoft's "deep link to navigate to channel conversation":
    https://teams.microsoft.com/l/message/<channelId>/<parentMessageId>?tenantId=<tenantId>&groupId=<groupId>
    &parentMessageId=<parentMessageId>&teamName=<teamName>&channelName=<channelName>&createdTime=<createdTime>
    (https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/deep-link-teams#deep-link-to-navigate-to-channel-conversation).
    The bot knows the channel, the thread's root message and the tenant; the team's group id and names are optional
    for Teams to open the message, and a channel message id is its creation time in milliseconds.
    """
    if thread is None or thread.kind != ThreadKind.CHANNEL or not thread.card_activity_id:
        return None
    channel, _, root = thread.conversation_id.partition(";messageid=")
    parent = root or thread.card_activity_id
    query = {"tenantId": thread.tenant_id, "parentMessageId": parent}
    if thread.card_activity_id.isdigit():
        query["createdTime"] = thread.card_activity_id
    return f"{TEAMS_WEB}/l/message/{quote(channel, safe='')}/{quote(thread.card_activity_id, safe='')}?{urlencode(query)}"
