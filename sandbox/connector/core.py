"""What every part of the Connector simulator shares: its state, the test controls and the gate every call passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from ..bot_token import BotTokenCheck, unauthorized
from ..http_errors import json_error
from ..world import User, World
from .limits import TeamsLimits, thread_of
from .records import ConnectorCall, PostedActivity, too_many_requests

_WRITES = ("create_conversation", "send", "reply", "update")


@dataclass
class ConnectorCore:
    world: World
    auth: BotTokenCheck
    clock: Callable[[], float] = time.time
    base_url: str = ""
    calls: list[ConnectorCall] = field(default_factory=list)
    activities: dict[str, PostedActivity] = field(default_factory=dict)
    throttle_remaining: int = 0
    refused: int = 0  # calls answered 401 for want of a valid bot token
    throttle_retry_after: int = 1
    throttle_every: int = 0  # 0: off; n: every n-th write (create, send, reply, update) is answered 429
    writes_seen: int = 0
    outage: bool = False  # every call answered 502 Bad Gateway (the service is down)
    outage_refused: int = 0
    changed: asyncio.Condition | None = None
    installed: dict[str, str] = field(default_factory=dict)  # object id -> their 1:1 chat: the app installed for them
    # channel id -> new threads refused there (-1: all) because the app is not installed in its team (remove_from_team)
    not_in_team: dict[str, int] = field(default_factory=dict)
    rosters: dict[str, list[User]] = field(default_factory=dict)  # chat or channel -> its members, where one was set
    # Teams' documented limits, on by default (limits.py); calls over them are answered 429 and counted here
    limits: TeamsLimits = field(default_factory=TeamsLimits)
    limited: int = 0
    over_limits: list[ConnectorCall] = field(default_factory=list)  # the calls refused over them (`calls` has all)
    _next_id: int = 1_700_000_000_000
    kept_in: Path | None = None  # the file the conversations are kept in between runs (kept.py); None keeps nothing

    async def _on_startup(self, app: web.Application) -> None:
        self.changed = asyncio.Condition()

    # -- controls -----------------------------------------------------------------------------
    def throttle(self, count: int, retry_after: int = 1) -> None:
        """Answer the next `count` calls with 429 Too Many Requests."""
        self.throttle_remaining, self.throttle_retry_after = count, retry_after

    def throttle_writes(self, every: int, retry_after: int = 1) -> None:
        """Answer every `every`-th write with 429 for as long as it is set (0 stops): a bot over its per-thread
        or per-bot limits for a whole scenario. Teams answers 429 Too Many Requests when a bot exceeds its limits
        (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)."""
        self.throttle_every, self.throttle_retry_after, self.writes_seen = every, retry_after, 0

    def forget_limits(self) -> None:
        """Empty Teams' rate-limit windows, as if a quiet hour had passed. The test session shares one sandbox between
        tests that are each a scenario of their own (a new bot instance, new chats): each test starts with Teams'
        windows empty (and `limited`, the count of calls refused over them, at 0) instead of inheriting the sends of
        the tests before it. The limits stay on."""
        self.limits.forget()
        self.limited = 0
        self.over_limits.clear()

    def remove_from_team(self, channel_id: str, threads: int = -1) -> None:
        """The app removed from the team of `channel_id`: creating a thread there is refused with 403
        BotNotInConversationRoster ("The bot isn't part of the conversation roster", not to be retried: Teams' status
        codes from bot conversational APIs,
        https://learn.microsoft.com/microsoftteams/platform/bots/build-conversational-capability#status-codes-from-bot-conversational-apis),
        for the next `threads` attempts (as if added back after them) or until `add_to_team`."""
        self.not_in_team[channel_id] = threads

    def add_to_team(self, channel_id: str) -> None:
        self.not_in_team.pop(channel_id, None)

    def _refuse_thread(self, channel_id: str) -> bool:
        """Whether a new thread in `channel_id` is refused now (counting the refusal)."""
        left = self.not_in_team.get(channel_id, 0)
        if left == 0:
            return False
        if left > 0:
            self.not_in_team[channel_id] = left - 1
        return True

    def set_outage(self, down: bool) -> None:
        """While down, every call is answered 502 Bad Gateway and nothing is performed: one of the transient errors
        the rate-limit guide tells bots to retry with back-off (412, 429, 502, 504;
        https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit)."""
        self.outage = down

    # -- every call ---------------------------------------------------------------------------
    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    async def _guard(self, request: web.Request, operation: str, body: dict[str, Any] | None) -> web.Response | None:
        """None lets the call through (recorded); otherwise the answer: 401 without a valid bot token, 502 during an
        outage (neither recorded), 429 when throttled."""
        conversation = unquote(request.match_info.get("conversation", ""))
        activity = request.match_info.get("activity")
        caller = self.auth.caller(request.headers.get("Authorization"))
        if isinstance(caller, str):
            self.refused += 1
            return unauthorized(caller)
        if self.outage:
            self.outage_refused += 1
            return json_error(502, "ServiceError", "Bad Gateway.")
        call = ConnectorCall(operation, conversation, unquote(activity) if activity else None, body, caller.client_id, self.clock())
        self.calls.append(call)
        if self.throttle_every and operation in _WRITES:
            self.writes_seen += 1
            if self.writes_seen % self.throttle_every == 0:
                return too_many_requests(self.throttle_retry_after)
        if self.throttle_remaining > 0:
            self.throttle_remaining -= 1
            return too_many_requests(self.throttle_retry_after)
        retry_after = self.limits.admit(caller.client_id, operation, call_thread(conversation, body), self.clock())
        if retry_after:
            self.limited += 1
            self.over_limits.append(call)
            return too_many_requests(retry_after)
        return None

    async def _notify(self) -> None:
        """Called after every change: kept on disk (when asked), then anyone waiting is woken."""
        if self.kept_in is not None:
            from .kept import save

            save(self, self.kept_in)
        if self.changed is not None:
            async with self.changed:
                self.changed.notify_all()


def call_thread(conversation: str, body: dict[str, Any] | None) -> str:
    """The thread a call counts against: its conversation (a channel's reply chains are the channel); for a create
    conversation call, the channel it opens a thread in, else the chat its members name."""
    if conversation:
        return thread_of(conversation)
    body = body or {}
    channel = ((body.get("channelData") or {}).get("channel") or {}).get("id")
    if channel:
        return thread_of(str(channel))
    members = sorted(str(m.get("id", "")) for m in body.get("members") or [] if isinstance(m, dict))
    return "members:" + ",".join(members)
