"""Where the bot may act: the allowed scopes (subscriptions or resource groups), one rule for every entry point.

Chat commands, `POST /api/plans`, incident alerts and response plans all ask this module whether a resource is inside
the scopes configured in ALLOWED_SCOPES (and, for API callers and response plans, inside their own narrower
scopes). Everything outside is refused before any ARM call. Azure compares names case-insensitively
(resource-name-rules: "Always perform a case-insensitive comparison of names"), so does this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import Refusal, RefusalCode
from .names import resource_group_problem, subscription_problem
from .resources import ResourceRef

_SCOPE = re.compile(r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?/?$", re.IGNORECASE)


@dataclass(frozen=True)
class Scope:
    """A subscription, or one resource group in it."""

    subscription_id: str
    resource_group: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`/subscriptions/<id>` or `/subscriptions/<id>/resourceGroups/<rg>`; raises ValueError saying why not."""
        m = _SCOPE.match(text.strip())
        if not m:
            raise ValueError(f"{text!r} is not /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<group>")
        problem = subscription_problem(m["sub"]) or (resource_group_problem(m["rg"]) if m["rg"] else None)
        if problem:
            raise ValueError(f"{text!r}: {problem}")
        return cls(m["sub"].lower(), m["rg"])

    def __str__(self) -> str:
        sub = f"/subscriptions/{self.subscription_id}"
        return f"{sub}/resourceGroups/{self.resource_group}" if self.resource_group else sub

    def holds(self, subscription_id: str, resource_group: str | None = None) -> bool:
        """True if the subscription (and group, when given) lies inside this scope."""
        if subscription_id.lower() != self.subscription_id.lower():
            return False
        if self.resource_group is None:
            return True
        return resource_group is not None and resource_group.lower() == self.resource_group.lower()

    def contains(self, ref: ResourceRef) -> bool:
        return self.holds(ref.subscription_id, ref.resource_group)

    def within(self, others: Iterable[Scope]) -> bool:
        """True if this whole scope lies inside one of `others`."""
        return any(o.holds(self.subscription_id, self.resource_group) for o in others)


def parse_scopes(items: Iterable[str]) -> tuple[Scope, ...]:
    """Parse a list of scopes; raises ValueError for the first bad one or an empty list."""
    scopes = tuple(Scope.parse(i) for i in items if i.strip())
    if not scopes:
        raise ValueError("at least one scope is required")
    return scopes


def in_scopes(ref: ResourceRef, scopes: Iterable[Scope]) -> bool:
    return any(s.contains(ref) for s in scopes)


def describe(scopes: Iterable[Scope]) -> str:
    return ", ".join(str(s) for s in scopes) or "none"


def out_of_scope_message(ref: ResourceRef, scopes: Sequence[Scope]) -> str:
    return (
        f"{ref.resource_type.noun} {ref.display} in resource group {ref.resource_group} (subscription {ref.subscription_id}) is outside "
        f"the scopes I may act on ({describe(scopes)}). Nothing was done; if it should be managed here, ask an "
        f"administrator to add its scope to ALLOWED_SCOPES."
    )


def check_in_scope(ref: ResourceRef, scopes: Sequence[Scope]) -> None:
    """Raise Refusal(OUT_OF_SCOPE) unless `ref` is inside one of `scopes`."""
    if not in_scopes(ref, scopes):
        raise Refusal(RefusalCode.OUT_OF_SCOPE, out_of_scope_message(ref, scopes))


def check_group_in_scope(subscription_id: str, resource_group: str, scopes: Sequence[Scope]) -> None:
    """Raise Refusal(OUT_OF_SCOPE) unless the resource group is inside one of `scopes` (before listing it)."""
    if not any(s.holds(subscription_id, resource_group) for s in scopes):
        raise Refusal(
            RefusalCode.OUT_OF_SCOPE,
            f"Resource group {resource_group} is outside the scopes I may act on ({describe(scopes)}). "
            f"Nothing was done; name a resource inside them, or ask an administrator to extend ALLOWED_SCOPES.",
        )


def unique(refs: Iterable[ResourceRef]) -> list[ResourceRef]:
    """The refs in order, each resource once (ARM ids compare case-insensitively)."""
    seen: set[str] = set()
    kept = []
    for r in refs:
        if r.id.lower() not in seen:
            seen.add(r.id.lower())
            kept.append(r)
    return kept


@dataclass(frozen=True)
class TargetSelection:
    """The targets of an alert a response plan acts on, and the ones it leaves alone (with why)."""

    acted_on: tuple[ResourceRef, ...]
    out_of_scope: tuple[ResourceRef, ...]
    over_cap: tuple[ResourceRef, ...]


def select_targets(refs: Iterable[ResourceRef], scopes: Sequence[Scope], cap: int) -> TargetSelection:
    """De-duplicate, keep those inside `scopes`, and at most `cap` of them (in the alert's order)."""
    distinct = unique(refs)
    inside = [r for r in distinct if in_scopes(r, scopes)]
    outside = [r for r in distinct if not in_scopes(r, scopes)]
    return TargetSelection(tuple(inside[:cap]), tuple(outside), tuple(inside[cap:]))
