"""Reminders, escalation and the near-expiry warning as pure steps on a waiting plan, and the words people read.

Each step changes only the plan's follow-up record (its state stays): the services commit it as a compare-and-set
with its messages, so whichever instance wins does it and the others find it done. `due` says which steps a plan
needs now: a reminder once per wait (for consent, then for credentials), escalation once per plan, the warning
once per wait; never for a plan that is not waiting (decided, running, ended, or autonomous and approved at once).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from .card_times import time_left, waited
from .errors import Refusal, RefusalCode
from .markdown import literal
from .plan import WAITING_STATES, Plan, PlanState

WARN_LEAD = timedelta(minutes=5)  # the requester is warned this long before expiry...
WARN_SHARE = 0.2  # ...or when a fifth of the wait is left, if that is shorter (a plan that waits 10 minutes: at 8)


class Step(StrEnum):
    """In the order they are taken when several are due at once: the first approvers are reminded before the plan
    widens, so escalation approvers get only the escalation note."""

    REMIND = "remind"
    ESCALATE = "escalate"
    WARN = "warn"


def waiting_since(plan: Plan) -> datetime:
    """When the current wait began: the proposal for consent, Azure's refusal for credentials (whose deadline is set
    then, CREDENTIALS_EXPIRY_MINUTES later, and kept while other approvers try)."""
    if plan.state is PlanState.AWAITING_CREDENTIALS:
        return plan.expires_at - plan.policy.credentials_expiry
    return plan.created_at


def warn_at(plan: Plan) -> datetime:
    wait = plan.expires_at - waiting_since(plan)
    return plan.expires_at - min(WARN_LEAD, wait * WARN_SHARE)


def due(plan: Plan, now: datetime) -> list[Step]:
    """The steps `plan` needs at `now`, in order."""
    if plan.state not in WAITING_STATES or now >= plan.expires_at:
        return []
    since, f = waiting_since(plan), plan.follow_up
    steps = []
    if f.remind_after is not None and now - since >= f.remind_after and not _done_since(f.reminded_at, since):
        steps.append(Step.REMIND)
    if f.escalates and f.escalate_after is not None and now - since >= f.escalate_after and f.escalated_at is None:
        steps.append(Step.ESCALATE)
    if now >= warn_at(plan) and not _done_since(f.warned_at, since):
        steps.append(Step.WARN)
    return steps


def _done_since(at: datetime | None, since: datetime) -> bool:
    """Taken during the current wait: after it began (a step is never due at the very start of a wait)."""
    return at is not None and at > since


def take(plan: Plan, step: Step, now: datetime) -> Plan:
    """The plan with `step` recorded as taken at `now`; Refusal when it is no longer due (another instance took it,
    or the plan was decided or expired meanwhile)."""
    if step not in due(plan, now):
        raise Refusal(RefusalCode.WRONG_STATE, f"The {step.value} step is not due for plan {plan.id}.")
    f = plan.follow_up
    if step is Step.REMIND:
        return replace(plan, follow_up=replace(f, reminded_at=now))
    if step is Step.ESCALATE:
        return replace(plan, follow_up=replace(f, escalated_at=now))
    return replace(plan, follow_up=replace(f, warned_at=now))


# -- who approves once a plan is escalated -------------------------------------------------------------------------


def escalated_approvers(plan: Plan) -> frozenset[str]:
    """The escalation approvers a plan was widened to (none before it escalated)."""
    return plan.follow_up.escalate_to.approvers if plan.follow_up.escalated_at else frozenset()


def approver_ids(plan: Plan) -> frozenset[str]:
    """Everyone listed as an approver of the plan now: its policy's, then its escalation's."""
    return plan.policy.approvers | escalated_approvers(plan)


def approver_groups(plan: Plan) -> tuple[str, ...]:
    """The groups whose members approve the plan now: its policy's, then its escalation's."""
    escalated = plan.follow_up.escalate_to.group if plan.follow_up.escalated_at else None
    return tuple(g for g in (plan.policy.approver_group, escalated) if g)


# -- what people read ------------------------------------------------------------------------------------------------


def _asks(plan: Plan) -> str:
    if plan.state is PlanState.AWAITING_CREDENTIALS:
        return "needs an approver's credentials (Azure refused the agent)"
    return "waits for approval"


def _open(link: str | None) -> str:
    """The way to the card: its link, where Teams has one (a channel, a group chat), else where it is."""
    return f"[Open the card]({link})." if link else "Its card is in the chat where it was asked."


def reminder(plan: Plan, now: datetime, link: str | None) -> str:
    """To one approver, in their 1:1 chat."""
    return (
        f"\u23f0 Reminder: **{literal(plan.title)}** (asked by {literal(plan.requested_by.name)}) {_asks(plan)}; "
        f"it has waited {waited(waiting_since(plan), now)}, {time_left(plan.expires_at, now)}. {_open(link)}"
    )


def escalated_to_you(plan: Plan, now: datetime, link: str | None) -> str:
    """To one escalation approver, in their 1:1 chat."""
    return (
        f"\u23eb Escalated to you: **{literal(plan.title)}** (asked by {literal(plan.requested_by.name)}) {_asks(plan)} "
        f"and nobody answered for {waited(waiting_since(plan), now)}. You are now one of its approvers; "
        f"{time_left(plan.expires_at, now)}. {_open(link)}"
    )


def escalation_notice(plan: Plan, now: datetime, link: str | None) -> str:
    """In the escalation channel."""
    return (
        f"\u23eb Plan **{literal(plan.title)}** ({plan.id}, asked by {literal(plan.requested_by.name)}) {_asks(plan)} "
        f"and nobody answered for {waited(waiting_since(plan), now)}: it was escalated to {escalation_words(plan)}; "
        f"{time_left(plan.expires_at, now)}. {_open(link)}"
    )


def escalation_words(plan: Plan) -> str:
    """Who the plan was escalated to, as the card and the channel say it."""
    to = plan.follow_up.escalate_to
    n = len(to.approvers)
    parts = [f"{n} escalation approver{'' if n == 1 else 's'}"] if n else []
    if to.group:
        parts.append("the escalation group")
    return " and ".join(parts)


def about_to_expire(plan: Plan, now: datetime, link: str | None = None) -> str:
    """To the requester, where they asked (with a link to the card when it is elsewhere): what happens, what to do."""
    card = f"[the card]({link})" if link else "the card"
    if plan.state is PlanState.AWAITING_CREDENTIALS:
        what = "Azure refused the agent and no approver has lent their rights yet"
    else:
        what = f"it has {len(plan.approvals)} of the {plan.policy.approvals_required} approval(s) it needs"
    return (
        f"\u231b Your plan **{literal(plan.title)}** expires soon ({time_left(plan.expires_at, now)}): {what}. "
        f"Ask an approver to answer on {card} now; once it has expired, select Propose again on the card if it is "
        "still needed."
    )


def credentials_expired(plan: Plan) -> str:
    """To the requester, where they asked, when nobody lent credentials in time."""
    return (
        f"\u231b Your plan **{literal(plan.title)}** was approved, but Azure refused the agent and no approver lent their "
        "rights before the request expired; nothing more was done. Select Propose again on its card if it is still needed."
    )


def card_facts(plan: Plan, now: datetime) -> list[tuple[str, str]]:
    """(title, value) the card adds: how long the plan has waited, that its approvers were reminded, escalation.
    Relative times: a FactSet cannot show the reader's clock time (DATE/TIME work in TextBlocks only)."""
    facts = []
    if plan.state in WAITING_STATES:
        facts.append(("Waiting", waited(waiting_since(plan), now)))
    f = plan.follow_up
    if f.reminded_at is not None:
        facts.append(("Reminded", f"approvers, {waited(f.reminded_at, now)} ago"))
    if f.escalated_at is not None:
        facts.append(("Escalated to", f"{escalation_words(plan)}, {waited(f.escalated_at, now)} ago"))
    return facts
