"""The interfaces the services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from .domain.audit import AuditEvent
from .domain.follow_up import RequesterNotice
from .domain.incident import AlertCheck
from .domain.operations import Facts
from .domain.plan import AccessDenied, Plan, PlannedAction, PlanState, Thread
from .outbox_messages import CARD_LINK as CARD_LINK
from .outbox_messages import PENDING_THREAD as PENDING_THREAD
from .outbox_messages import PERSONAL_CHAT as PERSONAL_CHAT
from .outbox_messages import MessageKind as MessageKind
from .outbox_messages import OutboxMessage as OutboxMessage
from .outbox_messages import ThreadOpening as ThreadOpening
from .outbox_messages import pending_plan as pending_plan
from .outbox_messages import pending_ref as pending_ref


class UnitOfWork(Protocol):
    """The writes of one transition, committed together or not at all when the `async with` block ends.

    Saves are compare-and-set on the plan's version: if any fails, nothing is written and ConcurrentUpdate is raised
    when the block ends. Audit events are published (metrics, logs) only after the commit.
    """

    def add(self, plan: Plan) -> Plan:
        """Insert a new plan (version 1); returns it as it will be stored."""
        ...

    def save(self, plan: Plan, expected_version: int) -> Plan:
        """Write `plan` if the stored version is still `expected_version`; returns it with its new version."""
        ...

    def record(self, event: AuditEvent) -> None: ...
    def send(self, message: OutboxMessage) -> None:
        """Queue a message to Teams, sent by the outbox worker once this unit of work is committed."""
        ...

    def alert_processed(self, key: str, outcome: dict[str, Any]) -> None:
        """Mark the inbox's alert `key` processed with its outcome (a later delivery of it is a repeat)."""
        ...

    # the outbox worker's side
    def delivered(self, seq: int) -> None:
        """Message `seq` was sent: remove it from the outbox."""
        ...

    def coalesce(self, plan_id: str, up_to_version: int) -> None:
        """Drop pending card updates of `plan_id` written at or below `up_to_version` (the card sent shows newer)."""
        ...

    def name_thread(self, ref: str, thread: Thread) -> None:
        """The pending thread `ref` now exists as `thread`."""
        ...

    def dead_letter(self, seq: int, error: str) -> None:
        """Give up on message `seq`: it stays in the outbox as a dead letter, counted by /readyz and /metrics."""
        ...


@dataclass(frozen=True)
class Lease:
    """Which instance looks after a plan in APPROVED or an executing state, and until when (seconds since the epoch)
    unless its heartbeat renews it. An `until` in the past means that instance is gone."""

    plan_id: str
    owner: str
    until: float


class PlanStore(Protocol):
    """Plans with versioned compare-and-set, written through units of work.

    Execution leases: a unit of work that moves a plan into APPROVED or an executing state records, in the same
    transaction, a lease held by the committing instance, renewed by the store's heartbeat while the plan stays
    there; a save that keeps the plan in the same state leaves the lease with its holder; moving the plan out ends it.
    """

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...
    async def get(self, plan_id: str) -> Plan | None: ...
    async def lease(self, plan_id: str) -> Lease | None:
        """The plan's execution lease, or None if it never had one or it ended."""
        ...

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]: ...
    async def waiting_for(self, object_id: str) -> list[Plan]:
        """Plans in a waiting state that could be waiting for this person: those listing them among their approvers
        and those with an approver group (whose members only the directory knows), earliest expiry first. The
        permission rule (domain/permissions.py) decides; the store only leaves out plans that cannot concern them, so
        `pending` does not read every waiting plan."""
        ...

    async def for_incident(self, incident_id: str) -> list[Plan]: ...
    async def cards_unsent(self) -> set[str]:
        """The plans whose card (POST_CARD) is waiting in the outbox, not given up."""
        ...

    async def thread_opening(self, ref: str) -> ThreadOpening | None:
        """The OPEN_THREAD message of the pending thread `ref` while the outbox holds it (waiting or given up)."""
        ...


class AuditLog(Protocol):
    """Append-only trail (written through units of work)."""

    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]: ...


class Notifier(Protocol):
    """Teams, as the outbox worker sees it: post the card, update it in place, say something in a thread."""

    async def post_plan(self, plan: Plan, reply_to: str | None = None) -> Thread:
        """Post the plan card in the plan's thread; returns the thread with the card's activity id."""
        ...

    async def update_card(self, plan: Plan) -> None: ...
    async def open_thread(self, channel: Thread, card: dict[str, object]) -> Thread:
        """Start a new thread in a channel with `card` as its first message; returns the thread."""
        ...

    async def say(self, thread: Thread, text: str, reply_to: str | None = None) -> None: ...
    async def open_personal(self, thread: Thread) -> Thread:
        """The 1:1 chat with the user of a PERSONAL_CHAT thread, created through the Bot Connector (the app must be
        installed for them: Teams answers 403 or 404 otherwise)."""
        ...


@dataclass(frozen=True)
class ConversationRef:
    """A person's 1:1 chat with the bot, as Teams told the bot about it (install, conversation update, a message)."""

    tenant_id: str
    object_id: str  # the person's Entra object id (aadObjectId)
    conversation_id: str
    service_url: str
    user_id: str = ""  # the person's Teams id (29:...), when known


class ConversationRefs(Protocol):
    """Where each person's 1:1 chat with the bot is (so approvers can be told privately); not part of units of work:
    each write stands alone and repeats harmlessly."""

    async def remember(self, ref: ConversationRef) -> None: ...
    async def forget(self, tenant_id: str, object_id: str) -> None: ...
    async def personal_chat(self, tenant_id: str, object_id: str) -> ConversationRef | None: ...


class PrivateNotes(Protocol):
    """Where people are told privately about a plan: their 1:1 chats with the bot."""

    async def personal_threads(
        self, people: frozenset[str], groups: tuple[str, ...], leave_out: frozenset[str], tenant_id: str, service_url: str
    ) -> list[tuple[str, Thread]]:
        """(object id, 1:1 chat) of `people` and of the members of `groups` as the directory lists them, minus
        `leave_out`, bounded; a chat the bot knows no reference to is one the outbox creates (PERSONAL_CHAT)."""
        ...


class RequesterCallbacks(Protocol):
    """A requester told through a channel of its own rather than a chat: an agent's callback (issue 24)."""

    def stage(self, uow: UnitOfWork, plan: Plan, notice: RequesterNotice) -> bool:
        """Queue `notice` about `plan` for its requester in `uow`; False when this requester has no such channel
        (the bot then tells the chat where the plan was asked)."""
        ...


class Credential(Protocol):
    """An azure-core async TokenCredential, opaque to the services."""

    async def close(self) -> None: ...


class RunStatus(str, Enum):
    """How one action ended. A str enum: it is stored as the same words as before."""

    SUCCEEDED = "succeeded"
    REFUSED = "refused"  # the identity lacks the permission (AuthorizationFailed): the credentials flow starts
    FAILED = "failed"


class AzureProblem(str, Enum):
    """What Azure's error `code` means for the person reading the thread (several codes share one meaning)."""

    AUTHORIZATION_FAILED = "authorization_failed"
    OPERATION_NOT_ALLOWED = "operation_not_allowed"  # the VM's state forbids the action
    CONFLICT = "conflict"  # another operation is in progress, or the resource's state conflicts
    RESOURCE_NOT_FOUND = "resource_not_found"
    RESOURCE_GROUP_NOT_FOUND = "resource_group_not_found"
    SUBSCRIPTION_NOT_FOUND = "subscription_not_found"
    THROTTLED = "throttled"
    AUTHENTICATION_FAILED = "authentication_failed"  # ARM did not accept the token
    OPERATION_FAILED = "operation_failed"  # accepted, then the long-running operation failed
    STATE_CHANGED = "state_changed"  # not as the card showed (read again, or Azure's If-Match refused): nothing written
    UNREACHABLE = "unreachable"  # no answer from Azure (connection error or timeout)
    OTHER = "other"


@dataclass(frozen=True)
class AzureError:
    """Azure's own words: the error `code` and `message`, verbatim."""

    code: str
    message: str


@dataclass(frozen=True)
class RunResult:
    """What Azure answered to one action."""

    status: RunStatus
    detail: str
    access_denied: AccessDenied | None = None
    state: Facts = ()  # the resource's state once the action ended, when read (what the card shows after)
    problem: AzureProblem | None = None  # why it did not succeed, when it did not
    azure_error: AzureError | None = None  # what Azure said, when it said something


class ReadStatus(str, Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"  # Azure has no such resource (or resource group, or subscription)
    UNAVAILABLE = "unavailable"  # Azure could not be asked, refused the read, or throttled it


@dataclass(frozen=True)
class ArmReading:
    """What a GET found: the JSON body when FOUND; `detail` says why not otherwise (never a token)."""

    status: ReadStatus
    body: Any = None
    detail: str = ""


class ActionRunner(Protocol):
    """Azure Resource Manager: sends an action's exact request, and reads resources of any catalog type."""

    async def run(self, action: PlannedAction, credential: Credential, progress: Callable[[str], Awaitable[None]]) -> RunResult:
        """Send `action.request` as it is, with `credential`, and follow the operation to its end."""
        ...

    async def read(self, path: str, api_version: str) -> ArmReading:
        """GET `path` with the agent identity."""
        ...

    async def list(self, path: str, api_version: str) -> list[dict[str, Any]] | None:
        """Every item of the ARM collection at `path` (following `nextLink`) with the agent identity; None when Azure
        could not be asked."""
        ...


class CredentialBroker(Protocol):
    """The agent's identity, and (with an SSO token) a user's, for one execution only."""

    def agent(self) -> Credential: ...
    def for_user(self, sso_token: str) -> AbstractAsyncContextManager[Credential]:
        """The user's On-Behalf-Of credential; dropped with its cache when the block ends."""
        ...

    async def check(self, credential: Credential) -> None:
        """Perform the On-Behalf-Of exchange now; raise CredentialProblem saying what the user must do."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class TaskRunner(Protocol):
    """Runs work after the invoke has been answered (Teams waits only a few seconds)."""

    def spawn(self, work: Callable[[], Awaitable[object]], name: str) -> None: ...


class Directory(Protocol):
    """Group membership, for approver groups."""

    async def is_member(self, object_id: str, group_id: str, fresh: bool = True) -> bool:
        """Transitive membership; `fresh=False` may answer from a short cache (card views only).

        Raises DirectoryUnavailable when the directory cannot answer: never "not a member".
        """
        ...

    def problem(self) -> str | None:
        """Why the last membership check failed (for /readyz), or None if it succeeded or none was made."""
        ...


class AlertsReader(Protocol):
    """Azure Monitor's Alerts Management API, read with the agent identity."""

    async def get(self, alert_id: str) -> AlertCheck:
        """The alert's status and target; NOT_FOUND for unknown ids, UNAVAILABLE when Azure cannot be asked."""
        ...
