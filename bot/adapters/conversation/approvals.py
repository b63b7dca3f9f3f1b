"""Approvers reached wherever a plan is asked.

A plan asked where none of its approvers can act (a personal chat, a chat or channel none of them is in, by the
Connector's roster) goes to a new thread of the approvals channel (APPROVALS_CHANNEL); the requester gets a link to
the card there, and each approver gets a note with the link in their 1:1 chat with the bot (never the requester).
Without an approvals channel the plan stays where it was asked and the requester is told nobody can approve it there.

The bot learns each person's 1:1 chat from Teams' `installationUpdate` and `conversationUpdate` events and from any
personal message (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events);
an approver it knows no chat for is written to through a 1:1 chat the outbox creates (the app must be installed for them).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from ...domain import messages
from ...domain.errors import DirectoryUnavailable
from ...domain.plan import Person, Source, Thread, ThreadKind
from ...ports import CARD_LINK, PERSONAL_CHAT, ConversationRef, ConversationRefs
from ...services.propose_plan import PlanRequest
from .roster import Roster
from .turn import Incoming

log = logging.getLogger(__name__)
MAX_NOTES = 25  # approvers told privately about one plan (explicit approvers, then group members)
MAX_KNOWN = 4096  # 1:1 chats this instance remembered lately (a personal message then writes nothing)
MAX_GROUP_CHECKS = 20  # members of a conversation checked against the approver group
IsMember = Callable[[str, str], Awaitable[bool]]  # (object id, group id), may answer from a short cache
GroupMembers = Callable[[str, int], Awaitable[list[str]]]  # (group id, at most): object ids


@dataclass(frozen=True)
class ApprovalsChannel:
    """APPROVALS_CHANNEL: a Teams channel id (19:...@thread.tacv2), on the service URL and tenant of the bot's home."""

    channel_id: str
    service_url: str  # TEAMS_SERVICE_URL; empty: the service URL of the activity that asked
    tenant_id: str


class Approvals:
    def __init__(
        self,
        channel: ApprovalsChannel | None,
        roster: Roster | None,
        refs: ConversationRefs | None,
        is_member: IsMember | None = None,
        group_members: GroupMembers | None = None,
    ) -> None:
        self.channel, self.roster, self.refs = channel if channel and channel.channel_id else None, roster, refs
        self._is_member, self._group_members = is_member, group_members
        self._known: OrderedDict[tuple[str, str], ConversationRef] = OrderedDict()  # remembered lately: no rewrite

    # -- where a plan is asked ---------------------------------------------------------------------
    async def route(self, request: PlanRequest) -> tuple[PlanRequest, str | None]:
        """The request to propose (its card moved to the approvals channel when no approver can act where it was
        asked: a chat command or an agent's API plan alike), and what to tell the requester now when nobody can
        approve it at all (None otherwise)."""
        asked = request.thread
        if asked is None or await self._approver_can_act(request, asked):
            return request, None
        if self.channel is None:
            log.warning("plan asked where no approver can act, and APPROVALS_CHANNEL is not set")
            return request, messages.NOBODY_CAN_APPROVE
        ch = self.channel
        tenant = ch.tenant_id or asked.tenant_id
        channel = Thread(ch.service_url or asked.service_url, ch.channel_id, tenant, ThreadKind.CHANNEL)
        notes = [(asked, messages.sent_to_approvals(request.title, CARD_LINK))]
        for oid in await self._approvers_to_tell(request):
            text = messages.approver_note(request.requested_by.name, request.title, CARD_LINK)
            notes.append((await self._personal_thread(tenant, oid, channel.service_url), text))
        return replace(request, thread=channel, asked_in=asked, notes=tuple(notes)), None

    async def _approver_can_act(self, request: PlanRequest, thread: Thread) -> bool:
        policy, requester = request.policy, request.requested_by
        if thread.kind == ThreadKind.PERSONAL and request.source is Source.CHAT:
            present = {requester.object_id}  # a personal chat's only member besides the bot: the person asking
        else:  # a group chat or channel; or the 1:1 chat an agent's plan targets (its member is not the agent)
            if self.roster is None:
                return True
            members = await self.roster.members(thread.service_url, thread.conversation_id)
            if members is None:
                return True  # the roster is unknown: the card stays where it was asked, as it always did
            present = set(members)
        if not policy.allow_self_approval:
            present.discard(requester.object_id)
        if present & policy.approvers:
            return True
        if policy.approver_group and self._is_member is not None:
            try:
                for oid in sorted(present)[:MAX_GROUP_CHECKS]:
                    if await self._is_member(oid, policy.approver_group):
                        return True
            except DirectoryUnavailable:
                return True  # cannot tell: keep it where it was asked
        return False

    async def _approvers_to_tell(self, request: PlanRequest) -> list[str]:
        """Explicit approvers, then members of the approver group as Graph lists them; never the requester; bounded."""
        group = request.policy.approver_group
        return await self._people(request.policy.approvers, (group,) if group else (), frozenset({request.requested_by.object_id}))

    async def personal_threads(
        self, people: frozenset[str], groups: tuple[str, ...], leave_out: frozenset[str], tenant_id: str, service_url: str
    ) -> list[tuple[str, Thread]]:
        """PrivateNotes (bot/ports.py): the 1:1 chats of `people` and the members of `groups`, but `leave_out`
        (reminders and escalation notes: bot/services/follow_up.py)."""
        return [(oid, await self._personal_thread(tenant_id, oid, service_url)) for oid in await self._people(people, groups, leave_out)]

    async def _people(self, people: frozenset[str], groups: tuple[str, ...], leave_out: frozenset[str]) -> list[str]:
        """Listed people, then members of each group as Graph lists them; never those in `leave_out`; bounded."""
        wanted = sorted(people)
        for group in groups:
            if self._group_members is None or len(wanted) >= MAX_NOTES:
                break
            try:
                wanted += await self._group_members(group, MAX_NOTES)
            except Exception:
                log.info("members of the approver group unavailable: its members get no private note", exc_info=True)
        seen, chosen = set(leave_out), []
        for oid in wanted:
            if oid not in seen:
                seen.add(oid)
                chosen.append(oid)
        return chosen[:MAX_NOTES]

    async def _personal_thread(self, tenant: str, object_id: str, service_url: str) -> Thread:
        ref = await self.refs.personal_chat(tenant, object_id) if self.refs is not None else None
        if ref is not None:
            return Thread(ref.service_url, ref.conversation_id, ref.tenant_id, ThreadKind.PERSONAL)
        return Thread(service_url, PERSONAL_CHAT + object_id, tenant, ThreadKind.PERSONAL)  # created by the outbox

    # -- what Teams tells the bot about 1:1 chats ------------------------------------------------------
    async def learned(self, incoming: Incoming, person: Person | None) -> None:
        """Remember or forget the sender's 1:1 chat: install / uninstall of the app in personal scope, the bot added
        to a personal conversation, or any personal message."""
        if self.refs is None or person is None or incoming.conversation_type != ThreadKind.PERSONAL or not incoming.conversation_id:
            return
        try:
            key = (person.tenant_id, person.object_id)
            if incoming.type == "installationUpdate" and incoming.action.startswith("remove"):
                self._known.pop(key, None)
                await self.refs.forget(*key)
                return
            if incoming.type == "installationUpdate" and not incoming.action.startswith("add"):
                return
            sender = incoming.sender
            await self.refs.remember(
                ConversationRef(
                    person.tenant_id, person.object_id, incoming.conversation_id, incoming.service_url, sender.id if sender else ""
                )
            )
        except Exception:  # a lost reference costs a private note, never the turn
            log.warning("could not record the 1:1 chat of %s", person.object_id, exc_info=True)
