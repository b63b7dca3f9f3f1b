"""The audit trail: who did what to which plan, when, and from which state to which."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class AuditEventName(StrEnum):
    """Every event the bot records; the value is the word stored in the trail (never rename one)."""

    PLAN_PROPOSED = "plan_proposed"
    CONSENT_REQUESTED = "consent_requested"
    CONSENT_IMPLICIT = "consent_implicit"  # autonomous: approved by the response plan itself
    AUTONOMY_WITHHELD = "autonomy_withheld"
    APPROVAL_GIVEN = "approval_given"
    PLAN_DENIED = "plan_denied"
    EXECUTION_STARTED = "execution_started"
    ACTION_SUCCEEDED = "action_succeeded"
    ACTION_FAILED = "action_failed"
    AGENT_REFUSED = "agent_refused"  # Azure answered 403 to the agent identity
    USER_REFUSED = "user_refused"  # Azure answered 403 to the user who lent their rights
    CREDENTIALS_USED = "credentials_used"
    CREDENTIALS_RELEASED = "credentials_released"
    CREDENTIALS_DECLINED = "credentials_declined"
    PLAN_EXPIRED = "plan_expired"
    PLAN_INTERRUPTED = "plan_interrupted"
    PLAN_PROPOSED_AGAIN = "plan_proposed_again"  # on the new plan, naming the one it replaces (previous_plan)
    OUTCOME_AFTER_STOP = "outcome_after_stop"  # an action ended after its plan was stopped (interrupted elsewhere)
    OUTBOX_DEAD_LETTER = "outbox_dead_letter"  # a message to Teams that could never be sent
    CARD_REPOSTED = "card_reposted"  # a waiting plan's card never reached Teams: posted again (the sweep's repair)
    # a waiting plan nobody answered (domain/nudges.py); `to` names who was told (object ids)
    REMINDED = "reminded"  # its approvers were reminded privately
    ESCALATED = "escalated"  # widened to the escalation approvers (`approvers`, `group`), who were told privately
    EXPIRY_WARNED = "expiry_warned"  # its requester was told it is about to expire
    # a person's request the bot declined: each carries `code` (a RefusalCode or a credential problem)
    APPROVAL_REFUSED = "approval_refused"
    DENIAL_REFUSED = "denial_refused"
    CREDENTIALS_REFUSED = "credentials_refused"
    COMMAND_REFUSED = "command_refused"
    INVOKE_REFUSED = "invoke_refused"
    PROPOSE_AGAIN_REFUSED = "propose_again_refused"

    @property
    def is_refusal(self) -> bool:
        return self in REFUSAL_EVENTS

    @property
    def is_execution(self) -> bool:
        """One action's end, with its duration and acting identity in the detail."""
        return self in EXECUTION_EVENTS


E = AuditEventName
REFUSAL_EVENTS = frozenset(
    {E.APPROVAL_REFUSED, E.DENIAL_REFUSED, E.CREDENTIALS_REFUSED, E.COMMAND_REFUSED, E.INVOKE_REFUSED, E.PROPOSE_AGAIN_REFUSED}
)
EXECUTION_EVENTS = frozenset({E.ACTION_SUCCEEDED, E.ACTION_FAILED, E.AGENT_REFUSED, E.USER_REFUSED})


def event_named(name: str) -> AuditEventName | None:
    """The event a stored word names (None for a word this version does not know)."""
    try:
        return AuditEventName(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditEvent:
    """One line of the trail. `detail` holds plain facts, never a token or secret."""

    at: datetime
    plan_id: str | None
    actor: str  # object id of a person, or "agent" / "system"
    actor_name: str
    event: str  # an AuditEventName's value (a str: the trail may hold words of other versions)
    from_state: str | None = None
    to_state: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
