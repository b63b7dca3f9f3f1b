"""The words the thread reads when a plan ends or waits: outcome, identity, approvers, duration, resource."""

from __future__ import annotations

from ..domain.markdown import literal
from ..domain.plan import Plan, PlanState


def duration_text(plan: Plan) -> str:
    if not plan.started_at or not plan.finished_at:
        return ""
    seconds = (plan.finished_at - plan.started_at).total_seconds()
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def consent_text(plan: Plan) -> str:
    if plan.mode.value == "autonomous":
        return "consent implicit (incident response plan, autonomous mode)"
    return "approved by " + (", ".join(literal(a.approver.name) for a in plan.approvals) or "nobody")


def outcome_lines(plan: Plan) -> list[str]:
    """One line per action: what it was, how it ended, and who acted."""
    lines = []
    for i, action in enumerate(plan.actions):
        done = [o for o in plan.outcomes if o.index == i]
        if not done:
            lines.append(f"- {action.describe()}: not run")
            continue
        o = done[-1]
        lines.append(f"- {action.describe()}: {o.status} ({o.identity}). {o.detail}")
    return lines


def result_text(plan: Plan) -> str:
    """The reply posted in the thread when a plan reaches an end (or needs credentials)."""
    headline = {
        PlanState.SUCCEEDED: "✅ Succeeded",
        PlanState.FAILED: "❌ Failed",
        PlanState.DENIED: "🚫 Denied",
        PlanState.EXPIRED: "⌛ Expired",
        PlanState.INTERRUPTED: "⚠️ Interrupted",
        PlanState.CREDENTIALS_DENIED: "🚫 Credentials declined",
        PlanState.USER_NOT_AUTHORIZED: "⛔ Not authorized",
        PlanState.AWAITING_CREDENTIALS: "🔐 The agent's identity was refused",
    }.get(plan.state, plan.state.label)
    parts = [f"**{headline}**: {literal(plan.title)} (plan {plan.id})"]  # caller text: literal(), never markup
    if plan.state is PlanState.AWAITING_CREDENTIALS and plan.access_denied:
        d = plan.access_denied
        parts.append(
            f"Azure refused the agent identity ({d.identity}): it lacks **{d.permission}** on `{d.scope}`. "
            "An approver can lend their own rights for this plan from the card."
        )
    elif plan.state is PlanState.USER_NOT_AUTHORIZED and plan.access_denied:
        d = plan.access_denied
        parts.append(f"{d.identity} lacks **{d.permission}** on `{d.scope}` too. Nothing more was done.")
    elif plan.state is PlanState.DENIED and plan.decided_by:
        parts.append(f"Denied by {literal(plan.decided_by.name)}" + (f": {literal(plan.reason)}" if plan.reason else ".")
                     + " Nothing was done.")
    elif plan.state in (PlanState.FAILED, PlanState.INTERRUPTED, PlanState.EXPIRED) and plan.reason:
        parts.append(literal(plan.reason))
    parts.extend(outcome_lines(plan))
    facts = [f"Requested by {literal(plan.requested_by.name)}", consent_text(plan)]
    if plan.credentials_by:
        facts.append(f"credentials lent by {literal(plan.credentials_by.name)}")
    if took := duration_text(plan):
        facts.append(f"duration {took}")
    parts.append("; ".join(facts) + ".")
    return "\n\n".join(parts)
