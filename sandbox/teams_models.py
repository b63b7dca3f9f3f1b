"""What Teams shows and answers, as both sides of the sandbox read it: conversations, the bot's messages, their
Adaptive Cards and the HTTP answer to an invoke.

The driver (the Teams client) and the Connector simulator (the Teams service) share these, and name a person's
1:1 chat with the bot the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .world import Channel, User

PERSONAL_CHAT_PREFIX = "a:sandbox-personal-"  # the sandbox's id of a person's 1:1 chat with the bot
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_REFRESH_ALL_MEMBERS = 60  # the largest conversation whose every member's client refreshes a card by itself


def card_of(activity: dict[str, Any]) -> dict[str, Any] | None:
    """The Adaptive Card of an activity's first card attachment, if any."""
    for a in activity.get("attachments") or []:
        if a.get("contentType") == CARD_CONTENT_TYPE:
            content: dict[str, Any] = a.get("content") or {}
            return content
    return None


def execute_data(card: Any, verb: str) -> dict[str, Any] | None:
    """The `data` of the card's Action.Execute with `verb` (the refresh action included), as a click sends it."""
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute" and card.get("verb") == verb:
            return dict(card.get("data") or {})
        children: Any = card.values()
    elif isinstance(card, list):
        children = card
    else:
        return None
    for child in children:
        found = execute_data(child, verb)
        if found is not None:
            return found
    return None


def refreshes_automatically(card: Any, teams_id: str, member_count: int) -> bool:
    """Whether this person's Teams client refreshes `card` by itself (an `adaptiveCard/action` invoke with `trigger`
    automatic) when it shows it. "If the `userIds` field is not specified in the `Refresh` property, Teams client can
    automatically trigger refresh for all users when there are less than or equal to 60 members in the
    conversation"; with `userIds`, the card "automatically refreshes" for the users listed and "remains the same for
    other users", who may pick Refresh from the message's menu
    (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/user-specific-views)."""
    refresh = card.get("refresh") if isinstance(card, dict) else None
    if not isinstance(refresh, dict) or not isinstance(refresh.get("action"), dict):
        return False
    user_ids = refresh.get("userIds")
    if user_ids:
        return teams_id in user_ids
    return member_count <= MAX_REFRESH_ALL_MEMBERS


class ShowsActivity:
    """Read what an activity shows: its text and its Adaptive Card."""

    activity: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.activity.get("text") or "")

    @property
    def card(self) -> dict[str, Any] | None:
        return card_of(self.activity)


@dataclass(frozen=True)
class Conversation:
    """Where a user talks to the bot: a personal chat, a group chat or a channel."""

    id: str
    kind: str  # personal | groupChat | channel
    tenant_id: str
    channel: Channel | None = None


@dataclass(frozen=True)
class BotMessage(ShowsActivity):
    """An activity the bot posted, as currently shown (updates applied), and every version it has had, oldest first."""

    id: str
    conversation_id: str
    reply_to_id: str | None
    activity: dict[str, Any]
    versions: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class InvokeResult:
    """The HTTP answer to an invoke: status and parsed body."""

    status: int
    body: dict[str, Any] | None

    @property
    def status_code(self) -> int | None:
        return None if self.body is None else self.body.get("statusCode")

    @property
    def type(self) -> str | None:
        return None if self.body is None else self.body.get("type")

    @property
    def value(self) -> Any:
        return None if self.body is None else self.body.get("value")


def personal_chat_id(user: User) -> str:
    """The id of `user`'s 1:1 chat with the bot, in the driver and in the Connector alike."""
    return f"{PERSONAL_CHAT_PREFIX}{user.name}"
