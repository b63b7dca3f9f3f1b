"""The Notifier port over the Bot Connector, once for both Teams SDK adapters: post the plan card, update it in place,
reply in its thread, open a channel thread or a 1:1 chat, read a conversation's roster page by page.

Each adapter gives what differs between the SDKs (bot/adapters/teams, bot/adapters/agents): its connector client, its
activity models, how its errors carry Teams' status and `Retry-After`, and where its member model keeps the
properties it does not name. The rules live here: which service URLs may receive the bot's token, what is tried
again and when, and how each message is shaped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, TypeVar

from cards.view import CONTENT_TYPE, card_summary

from ...domain.plan import Plan, Thread, ThreadKind
from ...domain.service_urls import ServiceUrlPolicy, UntrustedServiceUrl
from ...ports import PERSONAL_CHAT
from ..delivery import http_refusal
from .roster import PAGE_SIZE, Entry, ReadPace, Roster, object_id_of, read_pages, unpaced

log = logging.getLogger(__name__)
T = TypeVar("T")
CardRenderer = Callable[[Plan, "list[str] | None"], dict[str, Any]]
# the Teams rate-limit guide's transient answers (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)
RETRYABLE = frozenset({412, 429, 502, 503, 504})
READ_ATTEMPTS = 6  # reads in a turn (members, roster pages): a 429 in a busy channel is waited out, not a refusal
MAX_VOUCHED_URLS = 256


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int, statuses: frozenset[int] = RETRYABLE) -> T:
    """`call`, again on a status among `statuses` after `Retry-After` (or a backoff), at most `attempts` times in all.
    The status is read from either SDK's exception by `http_refusal` (anything else is raised at once)."""
    for attempt in range(attempts):
        try:
            return await call()
        except Exception as e:
            status, headers = http_refusal(e) or (None, None)
            if status not in statuses or attempt == attempts - 1:
                raise
            retry_after = headers.get("Retry-After") if headers is not None else None
            delay = float(retry_after) if retry_after and retry_after.isdigit() else 0.5 * 2**attempt
            log.info("Teams answered %s; retrying in %.1fs", status, delay)
            await asyncio.sleep(min(delay, 20.0) + random.uniform(0, 0.25))
    raise AssertionError("unreachable")


async def read(call: Callable[[], Awaitable[T]]) -> T:
    """A read in a turn (a member, a roster page): a 429 in a busy channel is waited out, not a refusal, whatever the
    sends' attempts."""
    return await with_retries(call, READ_ATTEMPTS)


class VouchedUrls:
    """The service URLs authenticated activities came with (the channel's token named them), the latest few hundred:
    with the configured Bot Connector hosts, the only URLs the bot sends its token to."""

    def __init__(self, most: int = MAX_VOUCHED_URLS) -> None:
        self._urls: OrderedDict[str, None] = OrderedDict()
        self._most = most

    def add(self, url: object) -> None:
        if not isinstance(url, str) or not url:
            return
        self._urls[url] = None
        self._urls.move_to_end(url)
        while len(self._urls) > self._most:
            self._urls.popitem(last=False)

    def __contains__(self, url: object) -> bool:
        return url in self._urls


class ConnectorNotifier(ABC):
    """Notifier over the Bot Connector; subclasses name their SDK's models and connector client."""

    # the SDK's models: Activity, Attachment, ChannelAccount, ConversationParameters, and what the last one calls the bot
    activity_model: ClassVar[Any]
    attachment_model: ClassVar[Any]
    account_model: ClassVar[Any]
    parameters_model: ClassVar[Any]
    bot_field: ClassVar[str]

    def __init__(
        self, render: CardRenderer, bot_id: str, trusted: ServiceUrlPolicy, vouched: VouchedUrls, attempts: int, pace: ReadPace | None
    ) -> None:
        self._render, self._bot_id, self._trusted, self._vouched, self._attempts = render, bot_id, trusted, vouched, attempts
        self._pace: ReadPace = pace or unpaced  # each roster page waits for its place in Teams' limits for member reads
        self.roster = Roster(self._list_members)  # the conversation core asks it too (where approvers are)

    @abstractmethod
    async def _connect(self, service_url: str) -> Any:
        """The SDK's connector client for `service_url`, carrying the bot's token."""

    @staticmethod
    @abstractmethod
    def extra(member: Any) -> Mapping[str, object] | None:
        """The properties the SDK's member model keeps without naming them (where Teams' `objectId` lands)."""

    async def _client(self, service_url: str) -> Any:
        # The client sends the bot's token to this URL: only configured Bot Connector hosts, or one an authenticated
        # activity came from (the channel's token vouched for it). Checked for every call, whatever stored the URL
        # (API, response plan, an old row in the store).
        if not (self._trusted.allows(service_url) or service_url in self._vouched):
            raise UntrustedServiceUrl(
                f"refused to call the Bot Connector at an untrusted service URL "
                f"{str(service_url)[:100]!r} (not TEAMS_SERVICE_URL, not under TEAMS_SERVICE_URLS, "
                f"not from an authenticated activity)"
            )
        return await self._connect(service_url)

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        # not a 429: the outbox tries again after Retry-After, within this instance's share of Teams' limits (a retry
        # here would go out unpaced); botbuilder's msrest client does not retry 429 either (its ClientRetryPolicy
        # counts every status below 500 but 408 as final)
        return await with_retries(call, self._attempts, RETRYABLE - {429})

    async def _list_members(self, service_url: str, conversation_id: str) -> dict[str, str]:
        """The Connector's members of a conversation, every page, {Entra object id: Teams id} (the roster caches it)."""
        client = await self._client(service_url)

        async def page(token: str | None) -> tuple[list[Entry], str | None]:
            # both SDKs' ConnectorClient call `.../pagedmembers` (the Agents SDK's TeamsConnectorClient has its own
            # `.../pagedMembers`, which sends an empty continuationToken on the first page)
            members = client.conversations
            got = await self._pace(
                conversation_id, lambda: read(lambda: members.get_conversation_paged_members(conversation_id, PAGE_SIZE, token))
            )
            entries = [(object_id_of(m.aad_object_id, self.extra(m)), str(m.id or "")) for m in got.members or []]
            return entries, got.continuation_token

        return await read_pages(page)

    def _card(self, card: dict[str, Any], **fields: Any) -> Any:
        return self.activity_model(type="message", attachments=[self.attachment_model(content_type=CONTENT_TYPE, content=card)], **fields)

    async def _card_activity(self, plan: Plan) -> Any:
        return self._card(self._render(plan, await self.roster.approver_ids(plan)), summary=card_summary(plan))

    async def post_plan(self, plan: Plan, reply_to: str | None = None) -> Thread:
        thread = plan.thread
        if thread is None:
            raise ValueError(f"plan {plan.id} has no thread to post in")
        if thread.kind == ThreadKind.CHANNEL and ";messageid=" not in thread.conversation_id:
            return await self.open_thread(thread, self._render(plan, await self.roster.approver_ids(plan)))
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
        card_id = activity.id = thread.card_activity_id
        await self._retry(lambda: client.conversations.update_activity(thread.conversation_id, card_id, activity))

    async def open_thread(self, channel: Thread, card: dict[str, Any]) -> Thread:
        """A new thread in `channel` whose first message is `card`; `card_activity_id` is that message."""
        client = await self._client(channel.service_url)
        params = self.parameters_model(
            is_group=True,
            tenant_id=channel.tenant_id,
            activity=self._card(card),
            channel_data={"channel": {"id": channel.conversation_id}, "tenant": {"id": channel.tenant_id}},
            **{self.bot_field: self.account_model(id=self._bot_id)},
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
        params = self.parameters_model(
            is_group=False,
            members=[self.account_model(id=user)],
            tenant_id=thread.tenant_id,
            channel_data={"tenant": {"id": thread.tenant_id}},
            **{self.bot_field: self.account_model(id=self._bot_id)},
        )
        created = await self._retry(lambda: client.conversations.create_conversation(params))
        return Thread(thread.service_url, created.id, thread.tenant_id, ThreadKind.PERSONAL)

    async def say(self, thread: Thread, text: str, reply_to: str | None = None) -> None:
        """A plain message in a thread; with `reply_to`, as a reply to that activity (a chat command's answer)."""
        client = await self._client(thread.service_url)
        activity = self.activity_model(type="message", text=text, text_format="markdown")
        await self._retry(lambda: self._send(client, thread.conversation_id, activity, reply_to))

    @staticmethod
    async def _send(client: Any, conversation_id: str, activity: Any, reply_to: str | None) -> Any:
        if reply_to:
            activity.reply_to_id = reply_to
            return await client.conversations.reply_to_activity(conversation_id, reply_to, activity)
        return await client.conversations.send_to_conversation(conversation_id, activity)
