"""What the conversation core needs from a turn, whatever SDK delivered it.

`Incoming` is the activity reduced to the fields the core reads; the Protocols are what the core asks
of Teams during the turn (who a member is, the token service for the sign-in fallback, a reply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...domain.plan import Thread, ThreadKind


@dataclass(frozen=True)
class Sender:
    """`from`: the Teams user id (29:...), the Entra object id when Teams sent one, the display name."""

    id: str
    aad_object_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Incoming:
    """An activity as the core sees it. `text` has the bot's @mention removed; `raw_text` is as typed."""

    type: str
    channel_id: str
    service_url: str
    conversation_id: str
    conversation_type: str | None = None
    is_group: bool = False
    conversation_tenant_id: str = ""  # conversation.tenantId
    data_tenant_id: str = ""  # channelData.tenant.id
    sender: Sender | None = None
    activity_id: str | None = None  # the activity's own id (a command's answer replies to it)
    name: str | None = None  # the invoke's name (adaptiveCard/action, ...)
    text: str = ""
    raw_text: str = ""
    value: object = None
    action: str = ""  # installationUpdate: add | remove (and their -upgrade forms)
    members_added: tuple[str, ...] = ()  # conversationUpdate: ids of the members added

    @property
    def conversation_root(self) -> str:
        """The conversation without its thread (`;messageid=`): a channel's threads are one conversation."""
        return self.conversation_id.split(";messageid=")[0]


@dataclass(frozen=True)
class Member:
    """A conversation member as the Bot Connector reports it."""

    object_id: str
    tenant_id: str
    role: str  # user | guest | anonymous


class MemberNotConfirmed(Exception):
    """The Connector did not confirm the sender as a member (`status` is its HTTP status, if it answered)."""

    def __init__(self, status: int | None) -> None:
        super().__init__(f"member not confirmed (HTTP {status})")
        self.status = status


class MemberLookup(Protocol):
    async def member(self, user_id: str) -> Member:
        """`GET /v3/conversations/{id}/members/{userId}`, the object id read under `aadObjectId` or `objectId`
        (roster.object_id_of); raises MemberNotConfirmed (or anything) on failure."""
        ...


class UserTokens(Protocol):
    """The Bot Framework token service for this turn's user (the sign-in fallback when SSO is not possible)."""

    async def sign_in_link(self, connection_name: str) -> str | None: ...
    async def token_for_code(self, connection_name: str, code: str) -> str | None: ...
    async def sign_out(self, connection_name: str) -> None: ...


class Replies(Protocol):
    async def reply(self, text: str) -> None:
        """A markdown message in the turn's conversation."""
        ...


@dataclass(frozen=True)
class Turn:
    """One incoming activity and what the core may ask of Teams while answering it."""

    incoming: Incoming
    members: MemberLookup
    replies: Replies
    tokens: UserTokens | None  # None when the adapter has no token service client for this turn
    anonymous: bool = False  # Bot Framework authentication is off (ANONYMOUS_ALLOWED): nothing can be checked


def thread_of(incoming: Incoming) -> Thread:
    kind = ThreadKind.of(incoming.conversation_type or (ThreadKind.GROUP_CHAT if incoming.is_group else None))
    return Thread(
        service_url=incoming.service_url, conversation_id=incoming.conversation_id, tenant_id=incoming.conversation_tenant_id, kind=kind
    )
