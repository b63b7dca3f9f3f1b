"""Who may approve a plan: the consent policy and its checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ConsentPolicy:
    """Approvers (object ids and/or an Entra group), N of M, self-approval, expiries."""

    approvers: frozenset[str] = frozenset()
    approver_group: str | None = None
    approvals_required: int = 1
    allow_self_approval: bool = False
    expiry: timedelta = timedelta(minutes=30)
    credentials_expiry: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise ValueError("approvals_required must be at least 1")
        if self.expiry <= timedelta(0) or self.credentials_expiry <= timedelta(0):
            raise ValueError("expiries must be positive")

    def names_approver(self, object_id: str, in_group: bool = False) -> bool:
        """True if `object_id` is listed, or is a member of the approver group."""
        return object_id in self.approvers or (self.approver_group is not None and in_group)
