"""What the SQLite and the Table Storage stores do alike, in one place: what follows a commit, and how they keep a
delivery's last error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ...domain.audit import AuditEvent
from ...domain.plan import PlanState
from .leases import LeaseKeeper

Listener = Callable[[Sequence[AuditEvent], int], None]  # (events committed, outbox messages written)
LAST_ERROR_CHARS = 500  # the error kept with an outbox message or an alert that failed: enough to act on, bounded


def last_error(error: str) -> str:
    return error[:LAST_ERROR_CHARS]


def alert_retry_state(not_before: float | None) -> str:
    """An alert tried again later stays pending; without a time to try again it has failed (shown by /readyz)."""
    return "pending" if not_before is not None else "failed"


class Committed(Protocol):
    """The part of a unit of work that matters once it has committed."""

    events: list[AuditEvent]
    messages: int
    saved: list[tuple[str, PlanState]]


class Subscribers:
    """Listeners (metrics, logs) told of each commit, and the lease keeper told which plans this instance now holds.
    Audit events are published only once their transaction has committed."""

    leases: LeaseKeeper
    _listeners: list[Listener]

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` after each commit with its audit events and how many messages it queued."""
        self._listeners.append(listener)

    def _committed(self, uow: Committed) -> None:
        for plan_id, state in uow.saved:
            self.leases.saved(plan_id, state)
        for listener in self._listeners:
            listener(uow.events, uow.messages)


def outcome_if_done(found: tuple[str, dict[str, Any] | None] | None) -> dict[str, Any] | None:
    """The outcome of an alert from its (state, outcome), once processed."""
    return found[1] if found and found[0] == "done" else None
