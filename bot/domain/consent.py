"""Who may approve a plan: the consent policy and its checks."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    credentials_attempts: int = 1  # approvers who may try their rights before a refusal ends the plan

    def __post_init__(self) -> None:
        if self.approvals_required < 1:
            raise ValueError("approvals_required must be at least 1")
        if self.credentials_attempts < 1:
            raise ValueError("credentials_attempts must be at least 1")
        if self.expiry <= timedelta(0) or self.credentials_expiry <= timedelta(0):
            raise ValueError("expiries must be positive")

    def names_approver(self, object_id: str, in_group: bool = False) -> bool:
        """True if `object_id` is listed, or is a member of the approver group."""
        return object_id in self.approvers or (self.approver_group is not None and in_group)


class PolicyLoosened(ValueError):
    """A caller asked for a weaker policy than the configured one; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def tightened(
    base: ConsentPolicy, *, approvers: frozenset[str] | None = None, approvals_required: int | None = None, expiry: timedelta | None = None
) -> ConsentPolicy:
    """`base` (the configuration), made stricter by a caller: never weaker.

    A caller may narrow the approvers to a subset of the listed ones (the approver group is then dropped, so the
    set only shrinks), raise the quorum (up to the number of approvers), and shorten the expiry. Anything else
    raises PolicyLoosened naming each field: approvers, approvals_required, expiry.
    """
    problems: list[tuple[str, str]] = []
    policy = base
    if approvers is not None:
        strangers = sorted(approvers - base.approvers)
        if not base.approvers:
            problems.append(("approvers", "approvers come from the configured approver group; a caller cannot name any"))
        elif strangers:
            problems.append(
                ("approvers", f"only a subset of the configured approvers may be named; not configured: {', '.join(strangers)}")
            )
        elif not approvers:
            problems.append(("approvers", "at least one approver is required"))
        else:
            policy = replace(policy, approvers=approvers, approver_group=None)
    required = base.approvals_required if approvals_required is None else approvals_required
    most = len(policy.approvers) if policy.approver_group is None else max(len(policy.approvers), required)
    if required < base.approvals_required:
        problems.append(
            (
                "approvals_required",
                f"at least {base.approvals_required} (the configured quorum): a caller may raise the quorum, never lower it",
            )
        )
    elif (approvers, approvals_required) != (None, None) and policy.approver_group is None and required > most:
        field = "approvals_required" if approvals_required is not None else "approvers"
        problems.append((field, f"{required} approvals are required but only {most} approver(s) would be left"))
    else:
        policy = replace(policy, approvals_required=required)
    if expiry is not None:
        if expiry > base.expiry or expiry <= timedelta(0):
            problems.append(
                (
                    "expiry",
                    f"at most {base.expiry.total_seconds() / 60:g} minutes (the configured expiry): "
                    f"a caller may shorten it, never lengthen it",
                )
            )
        else:
            policy = replace(policy, expiry=expiry)
    if problems:
        raise PolicyLoosened(problems)
    return policy
