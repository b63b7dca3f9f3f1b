"""Execution plans: what an agent wants to do, who asked, and where the plan stands."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum

from .consent import ConsentPolicy
from .follow_up import FollowUp
from .names import resource_group_problem, subscription_problem, vm_name_problem


class Operation(str, Enum):
    """A write on a virtual machine; the value is the ARM action name."""

    RESTART = "restart"
    START = "start"
    POWER_OFF = "powerOff"
    DEALLOCATE = "deallocate"
    REDEPLOY = "redeploy"

    @property
    def rbac_action(self) -> str:
        return f"Microsoft.Compute/virtualMachines/{self.value}/action"

    @property
    def label(self) -> str:
        return {
            "restart": "Restart",
            "start": "Start",
            "powerOff": "Stop (power off)",
            "deallocate": "Deallocate",
            "redeploy": "Redeploy",
        }[self.value]

    @classmethod
    def parse(cls, word: str) -> Operation:
        """The operation a chat verb, an API body or a response plan names: one vocabulary everywhere.

        The ARM action names in any case, and `stop` for powerOff (what people say). Raises ValueError
        listing the accepted words.
        """
        found = _OPERATION_WORDS.get(word.strip().lower())
        if found is None:
            raise ValueError(f"operation must be one of {', '.join(OPERATION_WORDS)}")
        return found


_OPERATION_WORDS: dict[str, Operation] = {o.value.lower(): o for o in Operation} | {"stop": Operation.POWER_OFF}
OPERATION_WORDS: tuple[str, ...] = (*(o.value for o in Operation), "stop")  # as error messages list them


_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/virtualMachines/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResourceRef:
    """A virtual machine, by subscription, resource group and name."""

    subscription_id: str
    resource_group: str
    name: str

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.name}"
        )

    @classmethod
    def parse(cls, resource_id: str) -> ResourceRef:
        """Parse a VM resource id; raises ValueError naming the expected shape or the name rule broken."""
        m = _RESOURCE_ID.match(resource_id.strip())
        if not m:
            raise ValueError("expected /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/virtualMachines/<name>")
        # Azure's naming rules (domain/names.py): nothing like `..` or `%2F` reaches an ARM path
        problem = subscription_problem(m["sub"]) or resource_group_problem(m["rg"]) or vm_name_problem(m["name"])
        if problem:
            raise ValueError(problem)
        return cls(m["sub"], m["rg"], m["name"])


@dataclass(frozen=True)
class PlannedAction:
    operation: Operation
    resource: ResourceRef

    def describe(self) -> str:
        return f"{self.operation.label} VM {self.resource.name} in {self.resource.resource_group}"


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
    power_states: dict[str, str] = field(default_factory=dict)  # lower-case resource id -> last known power state
    asked_in: Thread | None = None  # where the requester asked, when the card went elsewhere (the approvals channel)
    follow_up: FollowUp = field(default_factory=FollowUp)  # reminders and escalation: when, and what was done (nudges.py)

    @property
    def content_hash(self) -> str:
        """A digest of what the approver is shown; a click carrying another digest is refused."""
        content = {
            "id": self.id,
            "title": self.title,
            "rationale": self.rationale,
            "actions": [[a.operation.value, a.resource.id.lower()] for a in self.actions],
            "requested_by": self.requested_by.object_id,
            "mode": self.mode.value,
            "approvals_required": self.policy.approvals_required,
            "approvers": sorted(self.policy.approvers),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]

    @property
    def approvers_so_far(self) -> tuple[Person, ...]:
        return tuple(a.approver for a in self.approvals)

    def power_state(self, resource: ResourceRef) -> str | None:
        return self.power_states.get(resource.id.lower())

    @property
    def approvals_missing(self) -> int:
        return max(0, self.policy.approvals_required - len(self.approvals))
