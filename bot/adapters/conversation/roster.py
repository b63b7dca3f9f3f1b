"""Who is in a conversation, as the Bot Connector lists it (`GET /v3/conversations/{id}/members`), kept a few minutes.

One roster for both SDK adapters: each gives a `MemberLister` (its connector client's member list); the roster
caches the answers per conversation in a bounded LRU and answers the two questions asked of it: the Teams ids of a
plan's approvers in its conversation (the card's `refresh.userIds`) and whether any approver is in a conversation
(where a plan asked there can be approved).
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/get-teams-context#fetch-the-roster-or-user-profile
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from ...domain.nudges import approver_ids
from ...domain.plan import Plan

log = logging.getLogger(__name__)
MEMBERS_TTL = 600.0
MAX_MEMBER_LISTS = 256
MAX_REFRESH_USERS = 60  # Teams refreshes a card automatically for at most 60 users


class MemberLister(Protocol):
    async def __call__(self, service_url: str, conversation_id: str) -> dict[str, str]:
        """{Entra object id: Teams user id} of the conversation's members; raises when the Connector cannot answer."""
        ...


class Roster:
    def __init__(
        self, lister: MemberLister, clock: Callable[[], float] = time.monotonic, ttl: float = MEMBERS_TTL, max_lists: int = MAX_MEMBER_LISTS
    ) -> None:
        self._lister, self._clock, self._ttl, self._max = lister, clock, ttl, max_lists
        self._members: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()  # LRU

    async def members(self, service_url: str, conversation_id: str) -> dict[str, str] | None:
        """{object id: Teams id} of the conversation (a channel's threads share one roster); None if unavailable."""
        conversation = conversation_id.split(";messageid=")[0]
        cached = self._members.get(conversation)
        if cached is None or self._clock() - cached[0] > self._ttl:
            try:
                listed = await self._lister(service_url, conversation)
            except Exception:
                log.info("members of %s unavailable", conversation, exc_info=True)
                return None
            cached = (self._clock(), listed)
            self._members[conversation] = cached
            while len(self._members) > self._max:
                self._members.popitem(last=False)
        self._members.move_to_end(conversation)
        return cached[1]

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
