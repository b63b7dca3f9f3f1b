"""Who is in a conversation, as the Bot Connector lists it page by page
(`GET /v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=`), kept a few minutes.

One roster for both SDK adapters: each gives a `MemberLister` that reads every page through its connector client
(`read_pages`, following continuation tokens); the roster caches the answers per conversation in a bounded LRU and
answers the two questions asked of it: the Teams ids of a plan's approvers in its conversation (the card's
`refresh.userIds`) and whether any approver is in a conversation (where a plan asked there can be approved).

Why paged: Teams' docs say the non-paged `GET /v3/conversations/{id}/members` "is unreliable in large teams and must
not be used" (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#fetch-the-roster-or-user-profile;
https://learn.microsoft.com/microsoftteams/platform/resources/team-chat-member-api-changes), and it names the Entra
object id `objectId`, where both SDKs' models read only `aadObjectId`: Microsoft's Agents Playground answers it so
(`listMembers` in @microsoft/m365agentsplayground), Teams too (microsoft/teams.net#525), so the roster came back
empty. The paged and single-member calls name it `aadObjectId`; every entry is read with `object_id_of`, which
takes either name, because Teams' own samples of those answers still show `objectId`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from ...domain.nudges import approver_ids
from ...domain.plan import Plan

log = logging.getLogger(__name__)
MEMBERS_TTL = 600.0
MAX_MEMBER_LISTS = 256
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 users
# Teams serves pages of 50 to 500 members ("Page size less than 50, are treated as 50, and greater than 500, are
# capped at 500", get-teams-context#fetch-the-roster-or-user-profile): the largest page costs the fewest calls
PAGE_SIZE = 500
MAX_PAGES = 100  # 50,000 members: twice a team's 25,000 (https://learn.microsoft.com/microsoftteams/limits-specifications-teams)

T = TypeVar("T")
Entry = tuple[str, str]  # (Entra object id, Teams user id); the object id empty for anonymous members
PageReader = Callable[["str | None"], Awaitable[tuple[Iterable[Entry], "str | None"]]]


def object_id_of(aad_object_id: object, extra: Mapping[str, object] | None) -> str:
    """The Entra object id of a member as an SDK model holds it: its `aadObjectId`, else the `objectId` the SDK kept
    among the properties its model does not name (msrest's `additional_properties`, pydantic's `model_extra`)."""
    if isinstance(aad_object_id, str) and aad_object_id:
        return aad_object_id
    value = (extra or {}).get("objectId")
    return value if isinstance(value, str) else ""


async def read_pages(read: PageReader) -> dict[str, str]:
    """{Entra object id: Teams id} of every page, following continuation tokens until Teams gives none. Members
    without an object id (anonymous meeting guests) are left out: nobody can name them as approvers."""
    members: dict[str, str] = {}
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        entries, token = await read(token)
        members.update((oid, teams_id) for oid, teams_id in entries if oid and teams_id)
        if not token or token in seen:  # a token answered twice would page forever
            return members
        seen.add(token)
    log.warning("the roster has more than %d pages; the members after them are not read", MAX_PAGES)
    return members


class ReadPace(Protocol):
    """Waits for a member read's place in Teams' limits (per conversation, per app), then reads: the outbox's pace,
    shared by the instances (adapters/delivery.py `ThreadRateLimit.read`)."""

    async def __call__(self, conversation: str, read: Callable[[], Awaitable[T]]) -> T: ...


async def unpaced(conversation: str, read: Callable[[], Awaitable[T]]) -> T:
    """No pace of its own (a bot built without the outbox's, such as a test's): the read at once."""
    return await read()


class MemberLister(Protocol):
    async def __call__(self, service_url: str, conversation_id: str) -> dict[str, str]:
        """{Entra object id: Teams user id} of the conversation's members (every page); raises when the Connector
        cannot answer."""
        ...


class Roster:
    def __init__(
        self, lister: MemberLister, clock: Callable[[], float] = time.monotonic, ttl: float = MEMBERS_TTL, max_lists: int = MAX_MEMBER_LISTS
    ) -> None:
        self._lister, self._clock, self._ttl, self._max = lister, clock, ttl, max_lists
        self._members: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()  # LRU
        self._listing: dict[str, asyncio.Future[dict[str, str] | None]] = {}  # conversation -> its read under way

    async def members(self, service_url: str, conversation_id: str) -> dict[str, str] | None:
        """{object id: Teams id} of the conversation (a channel's threads share one roster); None if unavailable.
        One read per conversation at a time: the cards and turns that ask while it is read share its answer."""
        conversation = conversation_id.split(";messageid=")[0]
        cached = self._members.get(conversation)
        if cached is not None and self._clock() - cached[0] <= self._ttl:
            self._members.move_to_end(conversation)
            return cached[1]
        listing = self._listing.get(conversation)
        if listing is None:
            listing = self._listing[conversation] = asyncio.ensure_future(self._list(service_url, conversation))
            listing.add_done_callback(lambda _: self._listing.pop(conversation, None))
        return await asyncio.shield(listing)  # one asker cancelled (its turn ended) leaves the read to the others

    async def _list(self, service_url: str, conversation: str) -> dict[str, str] | None:
        try:
            listed = await self._lister(service_url, conversation)
        except Exception:
            log.info("members of %s unavailable", conversation, exc_info=True)
            return None
        self._members[conversation] = (self._clock(), listed)
        self._members.move_to_end(conversation)
        while len(self._members) > self._max:
            self._members.popitem(last=False)
        return listed

    async def approver_ids(self, plan: Plan) -> list[str] | None:
        """Teams ids of the plan's approvers in its conversation, for the card's `refresh.userIds` (None: everyone)."""
        approvers = approver_ids(plan)  # the escalation approvers too, once the plan escalated
        if plan.thread is None or not approvers:
            return None
        members = await self.members(plan.thread.service_url, plan.thread.conversation_id)
        if members is None:
            log.info("the card of plan %s refreshes for everyone (no member list)", plan.id)
            return None
        ids = [members[oid] for oid in sorted(approvers) if oid in members]
        return ids[:MAX_REFRESH_USERS] or None
