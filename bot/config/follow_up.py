"""Plans nobody answers: when approvers are reminded, when and to whom a plan escalates, and where that is announced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from ..domain.follow_up import Escalation, FollowUp
from ..domain.plan import Thread, ThreadKind
from .reader import Reader, declared

SETTINGS = declared("follow_up")
CHANNEL_ID = re.compile(r"19:[^\s;/?#]+@thread\.[a-z0-9]+")  # as Teams sends it in channelData.channel.id


@dataclass(frozen=True)
class FollowUpSettings:
    schedule: FollowUp  # what every new plan starts with (a response plan or an API caller may change it)
    channel_id: str  # ESCALATION_CHANNEL

    @classmethod
    def read(cls, r: Reader) -> FollowUpSettings:
        remind = r.number("REMIND_AFTER_MINUTES", 0, integer=False)
        escalate = r.optional_number("ESCALATE_AFTER_MINUTES", 0, integer=False)
        to = Escalation(r.guids("ESCALATION_APPROVERS"), r.guid("ESCALATION_GROUP_ID") or None)
        if escalate and not to.configured:
            r.bad(
                f"ESCALATION_APPROVERS or ESCALATION_GROUP_ID is required when ESCALATE_AFTER_MINUTES={r.get('ESCALATE_AFTER_MINUTES')} "
                "is set: a plan needs someone to escalate to (expected Entra object ids, or a group id)"
            )
        channel = r.get("ESCALATION_CHANNEL")
        if channel and not CHANNEL_ID.fullmatch(channel):
            r.bad(f"ESCALATION_CHANNEL={channel[:80]!r} is invalid: expected a Teams channel id such as 19:abc...@thread.tacv2")
            channel = ""
        schedule = FollowUp(
            remind_after=timedelta(minutes=remind) if remind else None,
            escalate_after=timedelta(minutes=escalate) if escalate else None,
            escalate_to=to,
        )
        return cls(schedule, channel)

    def channel(self, service_url: str, tenant_id: str) -> Thread | None:
        """The escalation channel, on the bot's home service URL and tenant (as APPROVALS_CHANNEL)."""
        return Thread(service_url, self.channel_id, tenant_id, ThreadKind.CHANNEL) if self.channel_id else None
