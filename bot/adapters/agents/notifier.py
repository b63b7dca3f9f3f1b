"""Proactive messages to Teams on the Agents SDK: post the plan card, update it in place, reply in its thread,
open a channel thread. The same Notifier port and the same trusted-service-URL rule as bot/adapters/teams."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from microsoft_agents.activity import Activity, Attachment, ChannelAccount, ConversationParameters
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

from cards.view import CONTENT_TYPE, card_summary

from ...domain.plan import Plan, Thread, ThreadKind
from ...domain.service_urls import ServiceUrlPolicy, UntrustedServiceUrl
from ...ports import PERSONAL_CHAT
from ..conversation.roster import PAGE_SIZE, Entry, Roster, object_id_of, read_pages
from .auth import ChannelAuthenticator
from .connector import RETRYABLE, Connector, with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")
CardRenderer = Callable[[Plan, "list[str] | None"], dict[str, Any]]


class AgentsNotifier:
    """Notifier over the Bot Connector, through the Agents SDK's connector client."""

    def __init__(
        self,
        connector: Connector,
        channel_auth: ChannelAuthenticator,
        render: CardRenderer,
        bot_id: str,
        trusted: ServiceUrlPolicy,
        attempts: int = 1,
    ) -> None:
        # one try per send by default: the outbox worker tries again, durably
        self._connector, self._auth, self._render, self._attempts = connector, channel_auth, render, attempts
        self._bot_id, self._trusted = bot_id, trusted
        self.roster = Roster(self._list_members)  # the conversation core asks it too (where approvers are)

    async def _client(self, service_url: str) -> TeamsConnectorClient:
        # The client sends the bot's token to this URL: only configured Bot Connector hosts, or one an
        # authenticated activity came from (the channel's token vouched for it). Checked for every call.
        if not (self._trusted.allows(service_url) or self._auth.vouched(service_url)):
            raise UntrustedServiceUrl(
                f"refused to call the Bot Connector at an untrusted service URL "
                f"{str(service_url)[:100]!r} (not TEAMS_SERVICE_URL, not under TEAMS_SERVICE_URLS, "
                f"not from an authenticated activity)"
            )
        return await self._connector.client(service_url)

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        # not a 429: the outbox tries again after Retry-After, within this instance's share of Teams' limits (a retry
        # here would go out unpaced); botbuilder's msrest client does not retry 429 either (its ClientRetryPolicy
        # counts every status below 500 but 408 as final)
        return await with_retries(call, self._attempts, RETRYABLE - {429})

    async def _list_members(self, service_url: str, conversation_id: str) -> dict[str, str]:
        """The Connector's members of a conversation, every page, {Entra object id: Teams id} (the roster caches it)."""
        client = await self._client(service_url)

        async def page(token: str | None) -> tuple[list[Entry], str | None]:
            # the ConnectorClient's call (`.../pagedmembers`), not TeamsConnectorClient.get_conversation_paged_member,
            # which asks `.../pagedMembers` and sends an empty continuationToken on the first page
            got = await self._retry(lambda: client.conversations.get_conversation_paged_members(conversation_id, PAGE_SIZE, token))
            # pydantic keeps the properties the model does not name (`objectId`) in `model_extra`
            entries = [(object_id_of(m.aad_object_id, m.model_extra), str(m.id or "")) for m in got.members or []]
            return entries, got.continuation_token

        return await read_pages(page)

    async def _approver_ids(self, plan: Plan) -> list[str] | None:
        return await self.roster.approver_ids(plan)

    async def _card_activity(self, plan: Plan) -> Activity:
        card = self._render(plan, await self._approver_ids(plan))
        return Activity(type="message", attachments=[Attachment(content_type=CONTENT_TYPE, content=card)], summary=card_summary(plan))

    async def post_plan(self, plan: Plan, reply_to: str | None = None) -> Thread:
        thread = plan.thread
        if thread is None:
            raise ValueError(f"plan {plan.id} has no thread to post in")
        if thread.kind == ThreadKind.CHANNEL and ";messageid=" not in thread.conversation_id:
            return await self.open_thread(thread, self._render(plan, await self._approver_ids(plan)))
        client = await self._client(thread.service_url)
        activity = await self._card_activity(plan)
        sent = await self._retry(lambda: self._send(client, thread.conversation_id, activity, reply_to))
        return replace(thread, card_activity_id=sent.id)

    async def update_card(self, plan: Plan) -> None:
        thread = plan.thread
        if thread is None or thread.card_activity_id is None:
            return
        client = await self._client(thread.service_url)
        activity = await self._card_activity(plan)
        card_id = thread.card_activity_id
        activity.id = card_id
        await self._retry(lambda: client.conversations.update_activity(thread.conversation_id, card_id, activity))

    async def open_thread(self, channel: Thread, card: dict[str, Any]) -> Thread:
        """A new thread in `channel` whose first message is `card`; `card_activity_id` is that message."""
        client = await self._client(channel.service_url)
        activity = Activity(type="message", attachments=[Attachment(content_type=CONTENT_TYPE, content=card)])
        params = ConversationParameters(
            is_group=True,
            agent=ChannelAccount(id=self._bot_id),
            tenant_id=channel.tenant_id,
            activity=activity,
            channel_data={"channel": {"id": channel.conversation_id}, "tenant": {"id": channel.tenant_id}},
        )
        created = await self._retry(lambda: client.conversations.create_conversation(params))
        return replace(channel, conversation_id=created.id, card_activity_id=created.activity_id)

    async def open_personal(self, thread: Thread) -> Thread:
        """Create (or find: Teams answers the existing one) the 1:1 chat with the user of a PERSONAL_CHAT thread:
        `POST /v3/conversations` with the user as the only member and the tenant, as Teams documents proactive 1:1
        messages (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages).
        Teams refuses it (403/404) when the app is not installed for the user: the outbox makes that a dead letter."""
        user = thread.conversation_id.removeprefix(PERSONAL_CHAT)
        client = await self._client(thread.service_url)
        params = ConversationParameters(
            is_group=False,
            agent=ChannelAccount(id=self._bot_id),
            members=[ChannelAccount(id=user)],
            tenant_id=thread.tenant_id,
            channel_data={"tenant": {"id": thread.tenant_id}},
        )
        created = await self._retry(lambda: client.conversations.create_conversation(params))
        return Thread(thread.service_url, created.id, thread.tenant_id, ThreadKind.PERSONAL)

    async def say(self, thread: Thread, text: str, reply_to: str | None = None) -> None:
        """A plain message in a thread; with `reply_to`, as a reply to that activity (a chat command's answer)."""
        client = await self._client(thread.service_url)
        activity = Activity(type="message", text=text, text_format="markdown")
        await self._retry(lambda: self._send(client, thread.conversation_id, activity, reply_to))

    @staticmethod
    async def _send(client: TeamsConnectorClient, conversation_id: str, activity: Activity, reply_to: str | None) -> Any:
        if reply_to:
            activity.reply_to_id = reply_to
            return await client.conversations.reply_to_activity(conversation_id, reply_to, activity)
        return await client.conversations.send_to_conversation(conversation_id, activity)
