"""The audit trail: who did what to which plan, when, and from which state to which."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AuditEvent:
    """One line of the trail. `detail` holds plain facts, never a token or secret."""

    at: datetime
    plan_id: str | None
    actor: str  # object id of a person, or "agent" / "system"
    actor_name: str
    event: str  # e.g. plan_proposed, approval_given, approval_refused, executed, credentials_released
    from_state: str | None = None
    to_state: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
    seq: int | None = None
