"""Proactive messages to Teams: post the plan card, update it in place, reply in its thread.

Calls go through botbuilder's connector client (cached per service URL by our authentication),
retrying 429/412/5xx with backoff that honours `Retry-After`, as the Teams rate-limit guide asks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from botbuilder.schema import Activity, Attachment, ChannelAccount, ConversationParameters
from botframework.connector.aio import ConnectorClient
from msrest.exceptions import HttpOperationError

from cards.view import CONTENT_TYPE, card_summary

from ...domain.plan import Plan, Thread, ThreadKind
from ...domain.service_urls import ServiceUrlPolicy, UntrustedServiceUrl
from ...ports import PERSONAL_CHAT
from ..conversation.roster import PAGE_SIZE, Entry, Roster, object_id_of, read_pages
from .auth import CachingBotFrameworkAuthentication

log = logging.getLogger(__name__)
__all__ = ["TeamsNotifier", "UntrustedServiceUrl"]
T = TypeVar("T")
RETRYABLE = {412, 429, 502, 503, 504}
READ_ATTEMPTS = 4  # reads in a turn (members, roster pages): a 429 in a busy channel is waited out, not a refusal


CardRenderer = Callable[[Plan, "list[str] | None"], dict[str, Any]]


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int) -> T:
    """`call`, again on 429/412/5xx after `Retry-After` (or a back-off), at most `attempts` times in all."""
    for attempt in range(attempts):
        try:
            return await call()
        except HttpOperationError as e:  # ErrorResponseException too; the paged members call raises the base class
            status = e.response.status_code if e.response is not None else None
            if status not in RETRYABLE or attempt == attempts - 1:
                raise
            retry_after = e.response.headers.get("Retry-After")
            delay = float(retry_after) if retry_after and retry_after.isdigit() else 0.5 * 2**attempt
            log.info("Teams answered %s; retrying in %.1fs", status, delay)
            await asyncio.sleep(min(delay, 20.0) + random.uniform(0, 0.25))
    raise AssertionError("unreachable")


class TeamsNotifier:
    """Notifier over the Bot Connector."""

    def __init__(
        self,
        auth: CachingBotFrameworkAuthentication,
        claims_identity: Any,
        render: CardRenderer,
        bot_id: str,
        trusted: ServiceUrlPolicy,
        attempts: int = 4,
    ) -> None:
        self._auth, self._claims, self._render = auth, claims_identity, render
        self._bot_id = bot_id
        self._trusted = trusted
        self._attempts = attempts
        self.roster = Roster(self._list_members)  # the conversation core asks it too (where approvers are)

    async def _client(self, service_url: str) -> ConnectorClient:
        # The connector client sends the bot's token to this URL: only configured Bot Connector hosts, or one
        # an authenticated activity came from (the channel's token vouched for it). Checked here, for every
        # call, whatever stored the URL (API, response plan, an old row in the store).
        if not (self._trusted.allows(service_url) or self._auth.vouched(service_url)):
            raise UntrustedServiceUrl(
                f"refused to call the Bot Connector at an untrusted service URL "
                f"{str(service_url)[:100]!r} (not TEAMS_SERVICE_URL, not under TEAMS_SERVICE_URLS, "
                f"not from an authenticated activity)"
            )
        factory = self._auth.create_connector_factory(self._claims)
        return await factory.create(service_url, self._auth.get_originating_audience())

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        return await with_retries(call, self._attempts)

    async def _list_members(self, service_url: str, conversation_id: str) -> dict[str, str]:
        """The Connector's members of a conversation, every page, {Entra object id: Teams id} (the roster caches it)."""
        client = await self._client(service_url)

        async def page(token: str | None) -> tuple[list[Entry], str | None]:
            # a read in the turn: tried again on 429 like the member lookup (people.py), whatever the sends' attempts
            got = await with_retries(
                lambda: client.conversations.get_conversation_paged_members(conversation_id, PAGE_SIZE, token), READ_ATTEMPTS
            )
            # msrest keeps the properties its model does not name (`objectId`) in `additional_properties`
            entries = [(object_id_of(m.aad_object_id, m.additional_properties), str(m.id or "")) for m in got.members or []]
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
        activity.id = thread.card_activity_id
        card_id = thread.card_activity_id
        await self._retry(lambda: client.conversations.update_activity(thread.conversation_id, card_id, activity))

    async def open_thread(self, channel: Thread, card: dict[str, Any]) -> Thread:
        """A new thread in `channel` whose first message is `card`; `card_activity_id` is that message."""
        client = await self._client(channel.service_url)
        activity = Activity(type="message", attachments=[Attachment(content_type=CONTENT_TYPE, content=card)])
        params = ConversationParameters(
            is_group=True,
            bot=ChannelAccount(id=self._bot_id),
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
            bot=ChannelAccount(id=self._bot_id),
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
    async def _send(client: ConnectorClient, conversation_id: str, activity: Activity, reply_to: str | None) -> Any:
        if reply_to:
            activity.reply_to_id = reply_to
            return await client.conversations.reply_to_activity(conversation_id, reply_to, activity)
        return await client.conversations.send_to_conversation(conversation_id, activity)
