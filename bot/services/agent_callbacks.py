"""Requesters told through their own channel: an agent that gave a callback hears about its unanswered plan there,
not in a chat it never reads (the `RequesterCallbacks` port, consulted by the follow-ups and at expiry)."""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.follow_up import RequesterNotice
from ..domain.plan import Plan
from ..ports import Clock, UnitOfWork
from . import messages

# the CloudEvents type's last word for a notice that is not a change of state (`<prefix>.plan.expiring`)
EXPIRING = "expiring"


@dataclass(frozen=True)
class AgentCallbacks:
    plans_url: str  # https://<BOT_DOMAIN>/api/plans: the events' source
    clock: Clock

    def stage(self, uow: UnitOfWork, plan: Plan, notice: RequesterNotice) -> bool:
        if plan.callback is None:
            return False
        if notice is RequesterNotice.ABOUT_TO_EXPIRE:
            for m in messages.callback(plan, self.plans_url, self.clock.now(), EXPIRING):
                uow.send(m)
        # EXPIRED is a change of state: its own event (Deps.tell_agent) already tells the agent, once
        return True
