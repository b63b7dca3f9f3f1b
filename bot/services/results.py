"""The words the thread reads when a plan ends or waits: outcome, identity, approvers, duration, resource."""

from __future__ import annotations

from ..domain import messages
from ..domain.azure_names import identity_label, scope_label
from ..domain.markdown import literal
from ..domain.plan import Operation, Plan, PlannedAction, PlanState, ResourceRef
from ..ports import AzureProblem, RunResult, RunStatus

# Power states that mean "not running" and transitional ones (learn.microsoft.com/azure/virtual-machines/states-billing)
_NOT_RUNNING = {"stopped", "deallocated"}
_TRANSITIONAL = {"starting", "stopping", "deallocating"}


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


def run_detail(action: PlannedAction, result: RunResult) -> str:
    """The outcome line's words: the bot's plain explanation, what to do next, then Azure's code and message verbatim."""
    if result.status is RunStatus.SUCCEEDED:
        now = ", ".join(f"{label.lower()} {value}" for label, value in result.state)
        return result.detail + (f" Now: {now}." if now else "")
    if result.problem is None:
        return result.detail
    if result.problem is AzureProblem.STATE_CHANGED:
        return f"Nothing was written: {result.detail}. Select Propose again on the card to ask again with the state as it is now."
    explained = _explain(action, result)
    said = result.azure_error
    return f"{explained} Azure said: {said.code} — {said.message}".strip() if said else explained


def _explain(action: PlannedAction, result: RunResult) -> str:
    p = result.problem
    if p is AzureProblem.AUTHORIZATION_FAILED and result.access_denied:
        # the plan's refusal line already says who lacks what, where (messages.refusal_line): only Azure's own
        # text follows, once, with the full ids; without it, the short form
        if result.azure_error:
            return ""
        d = result.access_denied
        return f"Azure refused: {identity_label(d.identity)} lacks {d.permission} on {scope_label(d.scope)}."
    if p is AzureProblem.OPERATION_NOT_ALLOWED:
        return _not_allowed_now(action, dict(result.state).get("Power state"))
    if p in (AzureProblem.RESOURCE_NOT_FOUND, AzureProblem.RESOURCE_GROUP_NOT_FOUND, AzureProblem.SUBSCRIPTION_NOT_FOUND):
        return _not_found(action.resource, p)
    return _not_done(action.resource, result)


def _not_allowed_now(action: PlannedAction, state: str | None) -> str:
    """Azure refused the operation in the resource's current state (a VM's power state)."""
    r = action.resource
    if r.type != Operation.RESTART.rtype.name:
        now = ", ".join(f"{k.lower()} {v}" for k, v in action.before)
        return (
            f"Azure refused: this action is not allowed while {r.resource_type.noun} {r.display} is as it is now"
            + (f" ({now} when the plan was made)" if now else "")
            + ". Check its state, then propose an action that fits it."
        )
    if state in _NOT_RUNNING and action.operation == Operation.RESTART:
        return f"Azure refused: the VM must be running for a restart. {r.name} is {state}: start it instead."
    if state in _TRANSITIONAL:
        return (
            f"Azure refused: {r.name} is {state}, so another operation is still in progress. "
            "Wait for it to finish, then propose the action again."
        )
    return (
        f"Azure refused: this action is not allowed while {r.name} is {state or 'in its current state'}. "
        "Check the VM's state, then propose an action that fits it."
    )


def _not_found(r: ResourceRef, p: AzureProblem) -> str:
    """Azure found no resource, resource group or subscription by that name."""
    if p is AzureProblem.RESOURCE_NOT_FOUND:
        noun = r.resource_type.noun
        return (
            f"Azure found no {noun} {r.display} in resource group {r.resource_group}. Check the name (and that the {noun} "
            "was not deleted), then propose the plan again."
        )
    if p is AzureProblem.RESOURCE_GROUP_NOT_FOUND:
        return (
            f"Azure found no resource group {r.resource_group} in subscription {r.subscription_id}. "
            "Check the resource group's name, then propose the plan again."
        )
    return (
        f"Azure found no subscription {r.subscription_id} for this identity. Check the subscription id and "
        "that the identity has access to it, then propose the plan again."
    )


def _not_done(r: ResourceRef, result: RunResult) -> str:
    """Azure did not carry the action out (or may not have): why, as far as the bot knows, and what to check."""
    p, noun = result.problem, r.resource_type.noun
    state = ", ".join(f"{k.lower()} {v}" for k, v in result.state)
    if p is AzureProblem.CONFLICT:
        return (
            f"Azure refused: the request conflicts with the current state of {r.display} (another operation may be "
            "in progress). Wait for it to finish, then propose the action again."
        )
    if p is AzureProblem.THROTTLED:
        return (
            "Azure is throttling requests (too many requests for this subscription) and did not take the action. "
            "Propose the action again in a few minutes."
        )
    if p is AzureProblem.AUTHENTICATION_FAILED:
        return (
            "Azure did not accept the identity's token. An administrator should check the bot's Azure "
            "configuration (tenant, app registration, ARM endpoint); then propose the plan again."
        )
    if p is AzureProblem.OPERATION_FAILED:
        now = f" {r.display} is now {dict(result.state).get('Power state') or state}." if state else ""
        return (
            f"Azure accepted the action, then the operation failed.{now} Check the {noun}'s activity log in the "
            "Azure portal before trying again."
        )
    if p is AzureProblem.UNREACHABLE:
        return (
            f"Azure could not be reached ({result.detail}), so whether the action took effect is unknown. "
            f"Check the {noun}'s state before trying again."
        )
    return f"Azure did not carry out the action. Check the {noun} in the Azure portal, then propose the plan again."


def result_text(plan: Plan) -> str:
    """The reply posted in the thread when a plan reaches an end (or needs credentials): what happened, then what next."""
    parts = [f"**{messages.HEADLINES[plan.state]}**: {literal(plan.title)} (plan {plan.id})"]  # caller text: literal()
    if line := messages.refusal_line(plan):
        parts.append(line)
    elif plan.state is PlanState.DENIED:
        parts.append(messages.denied_line(plan))
    elif plan.state is PlanState.CREDENTIALS_DENIED:
        parts.append(messages.declined_line(plan))
    elif (
        plan.state in (PlanState.FAILED, PlanState.INTERRUPTED, PlanState.EXPIRED)
        and plan.reason
        and plan.reason not in {o.detail for o in plan.outcomes}
    ):  # an action's failure is told once, on its line
        parts.append(literal(plan.reason))
    parts.extend(outcome_lines(plan))
    facts = [f"Requested by {literal(plan.requested_by.name)}", consent_text(plan)]
    if plan.credentials_by:
        facts.append(f"credentials lent by {literal(plan.credentials_by.name)}")
    if took := duration_text(plan):
        facts.append(f"duration {took}")
    parts.append("; ".join(facts) + ".")
    if step := messages.next_step(plan):
        parts.append(step)
    return "\n\n".join(parts)
