"""A Teams client driver: builds Teams-shaped activities, posts them to the bot, reads what it posted.

Messages carry the @mention entity, `channelData` with tenant/team/channel and `from.aadObjectId`;
card clicks are `adaptiveCard/action` invokes (with or without `value.authentication.token`),
exactly as Microsoft's Universal Actions authentication flow shows
(https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/authentication-flow-in-universal-action-for-adaptive-cards).
Like the Teams service, it signs every activity with a
channel token (`Authorization: Bearer`, from the sandbox channel issuer, sandbox/channel.py) whose
`aud` is the bot's app id and whose `serviceurl` is the activity's `serviceUrl`. What the bot posts is
read back from the Connector simulator's `/sandbox/activities` over HTTP, so the driver works against
a running `make run` too.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from .reprs import PrintsOwnRepr
from .teams_models import (
    CARD_CONTENT_TYPE,
    BotMessage,
    Conversation,
    InvokeResult,
    ShowsActivity,
    card_of,
    execute_data,
    personal_chat_id,
    refreshes_automatically,
)
from .world import Channel, User

# the models live in sandbox/teams_models.py; callers import them from here too
__all__ = [
    "BOT_ID",
    "BOT_NAME",
    "CARD_CONTENT_TYPE",
    "BotMessage",
    "Conversation",
    "InvokeResult",
    "ShowsActivity",
    "TeamsDriver",
    "card_of",
    "execute_data",
]

BOT_ID = "28:sandbox-sre-consent-bot"
BOT_NAME = "SRE Consent"


@dataclass
class TeamsDriver(PrintsOwnRepr):
    """Plays the Teams client for simulated users against a bot's `/api/messages`."""

    bot_url: str
    service_url: str
    ssl_context: ssl.SSLContext | None = None
    bot_id: str = BOT_ID
    bot_name: str = BOT_NAME
    channel_url: str | None = None  # the channel token issuer; None posts unsigned activities (anonymous bots only)
    app_id: str | None = None  # the bot's Microsoft App ID: the audience of channel tokens
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)  # serviceUrl -> (token, expiry)

    def __post_init__(self) -> None:
        if self.app_id and self.bot_id == BOT_ID:
            self.bot_id = f"28:{self.app_id}"  # how Teams names a bot in activities

    async def __aenter__(self) -> TeamsDriver:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.ssl_context or True, limit=0))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use TeamsDriver as an async context manager")
        return self._session

    # -- conversations ---------------------------------------------------------------------------
    @staticmethod
    def personal(user: User) -> Conversation:
        return Conversation(personal_chat_id(user), "personal", user.tenant_id)

    @staticmethod
    def group_chat(tenant_id: str, name: str = "ops") -> Conversation:
        return Conversation(f"19:sandbox-{name}@thread.v2", "groupChat", tenant_id)

    @staticmethod
    def channel(channel: Channel, tenant_id: str) -> Conversation:
        return Conversation(channel.channel_id, "channel", tenant_id, channel)

    # -- activities ------------------------------------------------------------------------------
    def _base(self, user: User, conversation: Conversation, conversation_id: str) -> dict[str, Any]:
        conv: dict[str, Any] = {"id": conversation_id, "conversationType": conversation.kind, "tenantId": conversation.tenant_id}
        if conversation.kind != "personal":
            conv["isGroup"] = True
        channel_data: dict[str, Any] = {"tenant": {"id": conversation.tenant_id}}
        if conversation.channel:
            channel_data["team"] = {"id": conversation.channel.team_id, "name": conversation.channel.team_name}
            channel_data["channel"] = {"id": conversation.channel.channel_id, "name": conversation.channel.channel_name}
        now = datetime.now(UTC)
        return {
            "id": str(int(time.time() * 1000)) + uuid.uuid4().hex[:6],
            "timestamp": now.isoformat(),
            "localTimestamp": now.isoformat(),
            "serviceUrl": self.service_url,
            "channelId": "msteams",
            "from": {"id": user.teams_id, "name": user.display_name, "aadObjectId": user.object_id},
            "conversation": conv,
            "recipient": {"id": self.bot_id, "name": self.bot_name},
            "locale": "en-US",
            "channelData": channel_data,
        }

    def message(
        self, user: User, text: str, conversation: Conversation, *, mention: bool = True, thread_root: str | None = None
    ) -> dict[str, Any]:
        """A message activity; in a channel without `thread_root` it starts a new thread."""
        activity = self._base(user, conversation, conversation.id)
        if conversation.kind == "channel":
            activity["conversation"]["id"] = f"{conversation.id};messageid={thread_root or activity['id']}"
        entities: list[dict[str, Any]] = [{"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}]
        if mention:
            at = f"<at>{self.bot_name}</at>"
            text = f"{at} {text}"
            entities.insert(0, {"type": "mention", "text": at, "mentioned": {"id": self.bot_id, "name": self.bot_name}})
        activity.update({"type": "message", "text": text, "textFormat": "plain", "entities": entities})
        return activity

    def invoke(
        self,
        user: User,
        conversation: Conversation,
        conversation_id: str,
        reply_to_id: str,
        verb: str,
        data: dict[str, Any],
        *,
        token: str | None = None,
        connection_name: str | None = None,
        trigger: str = "manual",
        state: str | None = None,
    ) -> dict[str, Any]:
        """An `adaptiveCard/action` invoke for a click on `reply_to_id`'s card."""
        activity = self._base(user, conversation, conversation_id)
        value: dict[str, Any] = {
            "action": {"type": "Action.Execute", "id": uuid.uuid4().hex[:8], "verb": verb, "data": data},
            "trigger": trigger,
        }
        if token is not None:
            value["authentication"] = {"id": uuid.uuid4().hex, "connectionName": connection_name or "", "token": token}
        if state is not None:  # the magic code of a completed sign-in (the fallback when SSO is not possible)
            value["state"] = state
        activity.update({"type": "invoke", "name": "adaptiveCard/action", "replyToId": reply_to_id, "value": value})
        return activity

    def installation_update(self, user: User, action: str) -> dict[str, Any]:
        """`installationUpdate` for the app in `user`'s personal scope (action `add` or `remove`), as Teams sends it
        when a person installs or uninstalls the app (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/
        conversations/subscribe-to-conversation-events#install-update-event)."""
        activity = self._base(user, self.personal(user), self.personal(user).id)
        activity.update({"type": "installationUpdate", "action": action})
        return activity

    def bot_added(self, user: User) -> dict[str, Any]:
        """`conversationUpdate` with the bot in `membersAdded`, in `user`'s personal scope: what Teams sends (besides
        installationUpdate) when the app is added for a person."""
        activity = self._base(user, self.personal(user), self.personal(user).id)
        activity.update({"type": "conversationUpdate", "membersAdded": [{"id": self.bot_id}]})
        return activity

    # -- transport -------------------------------------------------------------------------------
    async def channel_token(self, service_url: str) -> str | None:
        """The channel token Teams would attach to an activity with this `serviceUrl` (kept until near its expiry)."""
        if not self.channel_url or not self.app_id:
            return None
        cached = self._tokens.get(service_url)
        if cached and cached[1] > time.monotonic() + 60:
            return cached[0]
        async with self.session.post(
            f"{self.channel_url}/sandbox/channel-token", json={"audience": self.app_id, "serviceUrl": service_url}
        ) as resp:
            resp.raise_for_status()
            body = await resp.json()
        self._tokens[service_url] = (body["token"], time.monotonic() + float(body["expires_in"]))
        return str(body["token"])

    async def post(self, activity: dict[str, Any], *, authorization: str | None = None) -> InvokeResult:
        """POST an activity to the bot, signed like Teams signs it (or with `authorization` as given), and return its HTTP answer."""
        if authorization is None and (token := await self.channel_token(str(activity.get("serviceUrl", "")))):
            authorization = f"Bearer {token}"
        headers = {"Authorization": authorization} if authorization else {}
        async with self.session.post(self.bot_url, json=activity, headers=headers) as resp:
            text = await resp.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = {"text": text[:500]}  # a plain-text error page (for example aiohttp's 500)
            if body is not None and not isinstance(body, dict):
                body = {"value": body}
            return InvokeResult(resp.status, body)

    async def sign_in(self, login_request: InvokeResult, user_name: str) -> str:
        """Follow a loginRequest's sign-in button as `user_name` signs in there; returns the magic code.

        Teams opens the button's link in a pop-up; the token service's page signs the person in and
        hands the code back, and Teams sends the same invoke again with it in `value.state`.
        """
        buttons = (login_request.value or {}).get("buttons") or [{}]
        link = str(buttons[0].get("value") or "")
        async with self.session.get(link, params={"user": user_name}, headers={"Accept": "application/json"}) as resp:
            resp.raise_for_status()
            return str((await resp.json())["code"])

    async def say(self, user: User, text: str, conversation: Conversation, **kw: Any) -> dict[str, Any]:
        """Send a message; returns the activity sent (its `conversation.id` is the thread)."""
        activity = self.message(user, text, conversation, **kw)
        result = await self.post(activity)
        if result.status >= 300:
            raise AssertionError(f"bot answered HTTP {result.status} to a message: {result.body}")
        return activity

    async def install(self, user: User, *, event: str = "installationUpdate") -> Conversation:
        """`user` installs the app in personal scope: Teams (the Connector) knows their 1:1 chat from now on, and the bot
        is told with `installationUpdate` (or `conversationUpdate`, `event="conversationUpdate"`)."""
        async with self.session.post(f"{self.service_url}/sandbox/installations", json={"user": user.name}) as resp:
            resp.raise_for_status()
        activity = self.installation_update(user, "add") if event == "installationUpdate" else self.bot_added(user)
        await self._deliver(activity)
        return self.personal(user)

    async def uninstall(self, user: User) -> None:
        """`user` removes the app: their 1:1 chat with the bot is gone, and the bot is told."""
        async with self.session.delete(f"{self.service_url}/sandbox/installations/{user.name}") as resp:
            resp.raise_for_status()
        await self._deliver(self.installation_update(user, "remove"))

    async def say_personal(self, user: User, text: str) -> dict[str, Any]:
        """A message in `user`'s 1:1 chat with the bot (the app installed for them, as it must be to chat with it)."""
        async with self.session.post(f"{self.service_url}/sandbox/installations", json={"user": user.name}) as resp:
            resp.raise_for_status()
        return await self.say(user, text, self.personal(user), mention=False)

    async def _deliver(self, activity: dict[str, Any]) -> None:
        result = await self.post(activity)
        if result.status >= 300:
            raise AssertionError(f"bot answered HTTP {result.status} to {activity['type']}: {result.body}")

    async def click(
        self, user: User, conversation: Conversation, card: BotMessage, verb: str, data: dict[str, Any], **kw: Any
    ) -> InvokeResult:
        """Click an `Action.Execute` on a card the bot posted."""
        return await self.post(self.invoke(user, conversation, card.conversation_id, card.id, verb, data, **kw))

    async def member_count(self, conversation_id: str) -> int:
        """How many members the conversation has, as the Teams client knows it (the Connector simulator's roster)."""
        async with self.session.get(f"{self.service_url}/sandbox/conversations/{quote(conversation_id, safe='')}/members") as resp:
            resp.raise_for_status()
            return int((await resp.json())["count"])

    async def shown(self, user: User, conversation: Conversation, message: BotMessage) -> dict[str, Any] | None:
        """The card `user` sees in `message` without touching it: their own view when their client refreshes the card
        by itself (teams_models.refreshes_automatically), else the card as posted."""
        card = message.card
        if not refreshes_automatically(card, user.teams_id, await self.member_count(message.conversation_id)):
            return card
        data = execute_data(card, "refresh") or {}
        result = await self.click(user, conversation, message, "refresh", data, trigger="automatic")
        return result.value if result.type == CARD_CONTENT_TYPE and isinstance(result.value, dict) else card

    async def bot_messages(self, conversation_id: str | None = None) -> list[BotMessage]:
        """What the bot has posted (optionally in one conversation or thread), oldest first."""
        async with self.session.get(f"{self.service_url}/sandbox/activities") as resp:
            items = await resp.json()
        return [
            BotMessage(i["id"], i["conversationId"], i.get("replyToId"), i["activity"], tuple(i.get("versions") or ()))
            for i in items
            if conversation_id in (None, i["conversationId"])
        ]

    async def wait_for(
        self, predicate: Callable[[BotMessage], bool], conversation_id: str | None = None, timeout: float = 10.0
    ) -> BotMessage:
        """Poll until the bot has posted (or updated to) a message matching `predicate`."""
        deadline = time.monotonic() + timeout
        while True:
            for m in await self.bot_messages(conversation_id):
                if predicate(m):
                    return m
            if time.monotonic() > deadline:
                seen = [(m.text[:80], (m.card or {}).get("body", [{}])[0].get("text")) for m in await self.bot_messages(conversation_id)]
                raise TimeoutError(f"no matching bot message within {timeout}s; seen: {seen}")
            await asyncio.sleep(0.02)
