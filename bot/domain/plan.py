"""Execution plans: what an agent wants to do, who asked, and where the plan stands."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from .callbacks import Callback
from .consent import ConsentPolicy
from .follow_up import FollowUp
from .operations import OPERATION_WORDS, Facts, Operation, OperationSpec, PlannedAction
from .resources import ResourceRef

__all__ = ["OPERATION_WORDS", "Operation", "OperationSpec", "PlannedAction", "ResourceRef"]  # their homes: operations/, resources.py


@dataclass(frozen=True)
class Person:
    """Someone in Teams: Entra object id, display name, tenant, and Teams user id (MRI) if known."""

    object_id: str
    name: str
    tenant_id: str
    teams_id: str | None = None


class ThreadKind(StrEnum):
    """Teams' conversationType: where a card is posted and how replies thread."""

    PERSONAL = "personal"
    GROUP_CHAT = "groupChat"
    CHANNEL = "channel"

    @classmethod
    def of(cls, conversation_type: str | None) -> ThreadKind:
        """Teams' `conversation.conversationType` (absent in personal chats)."""
        try:
            return cls(conversation_type or cls.PERSONAL)
        except ValueError:
            return cls.PERSONAL


@dataclass(frozen=True)
class Thread:
    """Where the plan lives in Teams: the conversation (or channel thread) and the card's activity id."""

    service_url: str
    conversation_id: str
    tenant_id: str
    kind: ThreadKind = ThreadKind.PERSONAL
    card_activity_id: str | None = None


HASH_FORM = 2  # the content hash covers each action's exact request, parameters and the state shown


class PlanState(str, Enum):
    PROPOSED = "proposed"
    AWAITING_CONSENT = "awaiting_consent"
    DENIED = "denied"
    APPROVED = "approved"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    AWAITING_CREDENTIALS = "awaiting_credentials"
    CREDENTIALS_DENIED = "credentials_denied"
    EXECUTING_AS_USER = "executing_as_user"
    USER_NOT_AUTHORIZED = "user_not_authorized"
    FAILED = "failed"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


TERMINAL_STATES = frozenset(
    {
        PlanState.DENIED,
        PlanState.SUCCEEDED,
        PlanState.CREDENTIALS_DENIED,
        PlanState.USER_NOT_AUTHORIZED,
        PlanState.FAILED,
        PlanState.EXPIRED,
        PlanState.INTERRUPTED,
    }
)
WAITING_STATES = frozenset({PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS})
EXECUTING_STATES = frozenset({PlanState.EXECUTING, PlanState.EXECUTING_AS_USER})


class Mode(str, Enum):
    REVIEW = "review"
    AUTONOMOUS = "autonomous"


class Source(str, Enum):
    CHAT = "chat"
    API = "api"
    INCIDENT = "incident"


@dataclass(frozen=True)
class Approval:
    approver: Person
    at: datetime


@dataclass(frozen=True)
class AccessDenied:
    """Azure refused an identity: which permission, on which scope, for whom (from the ARM error)."""

    permission: str
    scope: str
    identity: str
    message: str


class ActingIdentity(StrEnum):
    """Whose rights an action ran with: the agent's own, or a user's lent On-Behalf-Of."""

    AGENT = "agent"
    USER = "user"

    def describe(self, user_name: str = "") -> str:
        """The words shown on the card and in the thread."""
        return "the agent identity" if self is ActingIdentity.AGENT else f"on behalf of {user_name}"


@dataclass(frozen=True)
class ActionOutcome:
    """What happened to one action, and which identity acted."""

    index: int
    status: str  # succeeded | refused | failed
    identity: str  # ActingIdentity.describe(): "the agent identity" or "on behalf of <name>" (shown, never parsed)
    detail: str
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class Plan:
    """One execution plan and everything decided about it. Immutable: transitions return a new Plan."""

    id: str
    title: str
    rationale: str
    actions: tuple[PlannedAction, ...]
    requested_by: Person
    policy: ConsentPolicy
    created_at: datetime
    expires_at: datetime
    mode: Mode = Mode.REVIEW
    source: Source = Source.CHAT
    thread: Thread | None = None
    incident_id: str | None = None
    state: PlanState = PlanState.PROPOSED
    version: int = 0
    approvals: tuple[Approval, ...] = ()
    decided_by: Person | None = None
    reason: str | None = None
    next_action: int = 0
    outcomes: tuple[ActionOutcome, ...] = ()
    access_denied: AccessDenied | None = None
    credentials_by: Person | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: str | None = None
    observed: dict[str, Facts] = field(default_factory=dict)  # lower-case resource id -> its state as last read after an action
    asked_in: Thread | None = None  # where the requester asked, when the card went elsewhere (the approvals channel)
    hash_form: int = HASH_FORM  # 1: stored before actions were stored as requests (its cards carry the digest of then)
    follow_up: FollowUp = field(default_factory=FollowUp)  # reminders and escalation: when, and what was done (nudges.py)
    callback: Callback | None = None  # an agent's plan: where each change of its state is POSTed, signed
    # whose configuration governs its approvers (domain/approvers.py): the API caller's app id, or the response plan's name
    origin: str | None = None

    @property
    def content_hash(self) -> str:
        """A digest of what the approver is shown; a click carrying another digest is refused."""
        legacy = self.hash_form < HASH_FORM  # a plan stored before requests: its cards carry the digest of then
        content = {
            "id": self.id,
            "title": self.title,
            "rationale": self.rationale,
            "actions": [[a.operation.value, a.resource.id.lower()] if legacy else a.digest_form() for a in self.actions],
            "requested_by": self.requested_by.object_id,
            "mode": self.mode.value,
            "approvals_required": self.policy.approvals_required,
            "approvers": sorted(self.policy.approvers),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]

    @property
    def approvers_so_far(self) -> tuple[Person, ...]:
        return tuple(a.approver for a in self.approvals)

    def observed_facts(self, resource: ResourceRef) -> Facts:
        """The resource's state as read after its last action ran (empty before)."""
        return self.observed.get(resource.id.lower(), ())

    @property
    def approvals_missing(self) -> int:
        return max(0, self.policy.approvals_required - len(self.approvals))
