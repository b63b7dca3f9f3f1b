"""The interfaces the services depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from .domain.audit import AuditEvent
from .domain.incident import AlertCheck
from .domain.plan import AccessDenied, Plan, PlannedAction, PlanState, ResourceRef, Thread


class PlanStore(Protocol):
    """Plans with versioned compare-and-set saves."""

    async def add(self, plan: Plan) -> Plan: ...
    async def get(self, plan_id: str) -> Plan | None: ...
    async def save(self, plan: Plan, expected_version: int) -> Plan:
        """Write `plan` if the stored version is still `expected_version`; raise ConcurrentUpdate otherwise."""
        ...

    async def in_states(self, states: Iterable[PlanState]) -> list[Plan]: ...
    async def for_incident(self, incident_id: str) -> list[Plan]: ...
    async def first_delivery(self, key: str) -> bool:
        """True the first time `key` is seen (webhooks are retried: act once per delivery key)."""
        ...


class AuditLog(Protocol):
    """Append-only trail."""

    async def record(self, event: AuditEvent) -> None: ...
    async def events(self, plan_id: str | None = None, since: datetime | None = None) -> list[AuditEvent]: ...


class Notifier(Protocol):
    """Teams, as the services see it: post the card, update it in place, reply in the thread."""

    async def post_plan(self, plan: Plan) -> Thread:
        """Post the plan card in the plan's thread; returns the thread with the card's activity id."""
        ...

    async def update_card(self, plan: Plan) -> None: ...
    async def reply(self, plan: Plan, text: str) -> None: ...
    async def open_thread(self, channel: Thread, card: dict[str, object]) -> Thread:
        """Start a new thread in a channel with `card` as its first message; returns the thread."""
        ...

    async def say(self, thread: Thread, text: str) -> None: ...


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
    power_state: str | None = None  # the VM's power state once the action ended, when known
    problem: AzureProblem | None = None  # why it did not succeed, when it did not
    azure_error: AzureError | None = None  # what Azure said, when it said something


class ActionRunner(Protocol):
    """Runs actions on Azure and reads resources."""

    async def run(self, action: PlannedAction, credential: Credential,
                  progress: Callable[[str], Awaitable[None]]) -> RunResult: ...
    async def power_state(self, resource: ResourceRef) -> str | None: ...
    async def list_vms(self) -> list[ResourceRef]:
        """The VMs the agent identity can read (what chat commands may name)."""
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
