"""What the bot does about a plan nobody answers: its schedule of reminders and escalation, set when it is proposed,
and what was done so far (each step once). Plain data; the steps themselves are in nudges.py.

The schedule comes from the configuration (REMIND_AFTER_MINUTES, ESCALATE_AFTER_MINUTES, ESCALATION_APPROVERS,
ESCALATION_GROUP_ID); an incident response plan may set its own (`remindAfterMinutes`, `escalateAfterMinutes`,
`escalateTo`: it is configuration too); an API caller may only shorten the times (`shortened`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Escalation:
    """Who a plan widens to when nobody answered in time: configured people (Entra object ids) and/or a group."""

    approvers: frozenset[str] = frozenset()
    group: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.approvers or self.group)


@dataclass(frozen=True)
class FollowUp:
    """The plan's schedule (None: never) and when each step was taken (None: not yet)."""

    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: Escalation = field(default_factory=Escalation)
    reminded_at: datetime | None = None  # the approvers were reminded (once per wait: consent, then credentials)
    escalated_at: datetime | None = None  # the plan was widened to `escalate_to` (once per plan)
    warned_at: datetime | None = None  # the requester was told it is about to expire (once per wait)

    @property
    def escalates(self) -> bool:
        return self.escalate_after is not None and self.escalate_to.configured

    def schedule(self) -> FollowUp:
        """The same schedule with nothing done yet (a plan proposed again starts afresh)."""
        return FollowUp(self.remind_after, self.escalate_after, self.escalate_to)


class RequesterNotice(StrEnum):
    """What the requester is told about a plan nobody answered."""

    ABOUT_TO_EXPIRE = "about_to_expire"
    EXPIRED = "expired"


class FollowUpLoosened(ValueError):
    """A caller asked for later reminders or escalation than configured; `problems` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


def _minutes(value: timedelta) -> str:
    return f"{value.total_seconds() / 60:g}"


def shortened(base: FollowUp, *, remind_after: timedelta | None = None, escalate_after: timedelta | None = None) -> FollowUp:
    """`base` (the configuration) with earlier reminders or escalation, as an API caller may ask; never later, and
    never an escalation the configuration does not have. Raises FollowUpLoosened naming remind_after, escalate_after."""
    problems: list[tuple[str, str]] = []
    follow_up = base
    if remind_after is not None:
        if base.remind_after is None:
            problems.append(("remind_after", "reminders are off (REMIND_AFTER_MINUTES=0): a caller cannot turn them on"))
        elif not timedelta(0) < remind_after <= base.remind_after:
            problems.append(("remind_after", f"more than 0 and at most {_minutes(base.remind_after)} minutes (the configured time)"))
        else:
            follow_up = replace(follow_up, remind_after=remind_after)
    if escalate_after is not None:
        if not base.escalates or base.escalate_after is None:
            problems.append(("escalate_after", "escalation is off (ESCALATE_AFTER_MINUTES): a caller cannot turn it on"))
        elif not timedelta(0) < escalate_after <= base.escalate_after:
            problems.append(("escalate_after", f"more than 0 and at most {_minutes(base.escalate_after)} minutes (the configured time)"))
        else:
            follow_up = replace(follow_up, escalate_after=escalate_after)
    if problems:
        raise FollowUpLoosened(problems)
    return follow_up


CALLER_FIELDS = {"remind_after": "remindAfterMinutes", "escalate_after": "escalateAfterMinutes"}  # POST /api/plans


def for_caller(base: FollowUp, body: dict[str, Any], err: Callable[[str, str], None]) -> FollowUp | None:
    """The follow-up of a plan an API caller submits: `base`, shortened by the body's `remindAfterMinutes` and
    `escalateAfterMinutes`; each problem reported through `err(field, message)` (then None)."""
    asked: dict[str, timedelta] = {}
    malformed = False
    for attribute, key in CALLER_FIELDS.items():
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value <= 10080:
            err(key, "a number of minutes, more than 0, at most the configured time")
            malformed = True
        else:
            asked[attribute] = timedelta(minutes=value)
    if malformed:
        return None
    try:
        return shortened(base, **asked)
    except FollowUpLoosened as e:
        for attribute, message in e.problems:
            err(CALLER_FIELDS[attribute], message)
        return None


def parse_own(item: dict[str, Any], base: FollowUp, where: str) -> FollowUp | None:
    """A response plan's own `remindAfterMinutes`, `escalateAfterMinutes` and `escalateTo` over `base`; None when it
    sets none of them. `escalateTo` lists Entra object ids, or is {"approvers": [...], "group": "<group id>"}.
    Raises ValueError naming the plan and field."""
    keys = ("remindAfterMinutes", "escalateAfterMinutes", "escalateTo")
    if not any(k in item for k in keys):
        return None
    follow_up = base
    if "remindAfterMinutes" in item:
        follow_up = replace(follow_up, remind_after=_own_minutes(item["remindAfterMinutes"], where, "remindAfterMinutes"))
    if "escalateAfterMinutes" in item:
        follow_up = replace(follow_up, escalate_after=_own_minutes(item["escalateAfterMinutes"], where, "escalateAfterMinutes"))
    if "escalateTo" in item:
        follow_up = replace(follow_up, escalate_to=_escalation(item["escalateTo"], where))
    if follow_up.escalate_after is not None and not follow_up.escalate_to.configured:
        raise ValueError(f"{where}: escalateAfterMinutes needs someone to escalate to: set escalateTo (or ESCALATION_APPROVERS)")
    return follow_up


def _own_minutes(value: Any, where: str, key: str) -> timedelta | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 10080:
        raise ValueError(f"{where}: {key} must be a number of minutes from 0 (never) to 10080 (a week)")
    return timedelta(minutes=value) if value else None


def _escalation(value: Any, where: str) -> Escalation:
    problem = f'{where}: escalateTo must list Entra object ids, or be {{"approvers": [object ids], "group": "<group id>"}}'
    approvers, group = (value, None) if isinstance(value, list) else (None, None)
    if isinstance(value, dict):
        approvers, group = value.get("approvers", []), value.get("group")
    if not isinstance(approvers, list) or not all(isinstance(a, str) and GUID.match(a) for a in approvers):
        raise ValueError(problem)
    if group is not None and not (isinstance(group, str) and GUID.match(group)):
        raise ValueError(problem)
    escalation = Escalation(frozenset(approvers), group)
    if not escalation.configured:
        raise ValueError(problem)
    return escalation
