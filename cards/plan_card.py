"""The plan card: one pure function of (plan, viewer, now) for every state of DESIGN.md §2."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from microsoft_teams.cards import (
    ActionSet,
    AdaptiveCard,
    AuthCardButton,
    Authentication,
    Container,
    ExecuteAction,
    Fact,
    FactSet,
    RefreshDefinition,
    TextBlock,
    TextInput,
    TokenExchangeResource,
)

from bot.domain import messages
from bot.domain.card_times import time_left
from bot.domain.markdown import literal
from bot.domain.nudges import card_facts
from bot.domain.plan import Plan, PlannedAction, PlanState
from bot.domain.transitions import PROPOSE_AGAIN_STATES

from .common import dump, heading, text
from .view import READ_ONLY, SsoSettings, Viewer, card_summary

__all__ = ["READ_ONLY", "SsoSettings", "Viewer", "card_summary", "plan_card"]

VERB_APPROVE, VERB_DENY, VERB_REFRESH = "approve", "deny", "refresh"
VERB_GRANT, VERB_CANCEL = "grant", "cancel"
VERB_PROPOSE_AGAIN = "proposeAgain"

_COLOR: dict[PlanState, str] = {
    PlanState.PROPOSED: "Default",
    PlanState.AWAITING_CONSENT: "Accent",
    PlanState.DENIED: "Attention",
    PlanState.APPROVED: "Good",
    PlanState.EXECUTING: "Accent",
    PlanState.SUCCEEDED: "Good",
    PlanState.AWAITING_CREDENTIALS: "Warning",
    PlanState.CREDENTIALS_DENIED: "Attention",
    PlanState.EXECUTING_AS_USER: "Accent",
    PlanState.USER_NOT_AUTHORIZED: "Attention",
    PlanState.FAILED: "Attention",
    PlanState.EXPIRED: "Warning",
    PlanState.INTERRUPTED: "Warning",
}
# the same headline as the thread's reply (bot/domain/messages.py), with the card's colour
STATE_STYLE: dict[PlanState, tuple[str, str]] = {s: (messages.HEADLINES[s], c) for s, c in _COLOR.items()}


def _time_left(plan: Plan, now: datetime) -> str:
    # relative, as Teams shows times; a clock time would need the reader's time zone (DATE/TIME work in TextBlocks only)
    return time_left(plan.expires_at, now)


def _state_facts(plan: Plan, action: PlannedAction, ran: bool) -> list[Fact]:
    """The resource's state: as read after its action ran, else as the card showed it when proposed, now -> after."""
    if ran and (now := plan.observed_facts(action.resource)):
        return [Fact(title=label, value=literal(value)) for label, value in now]
    after = dict(action.after)
    return [
        Fact(title=label, value=literal(value) if after.get(label, value) == value else f"{literal(value)} \u2192 {literal(after[label])}")
        for label, value in action.before  # an unknown state is left out rather than shown as "unknown"
    ]


def _actions_section(plan: Plan) -> list[Any]:
    items: list[Any] = []
    for i, action in enumerate(plan.actions):
        r, spec = action.resource, action.operation
        outcome = next((o for o in reversed(plan.outcomes) if o.index == i), None)
        facts = [
            Fact(title="Resource group", value=literal(r.resource_group)),
            Fact(title="Subscription", value=literal(r.subscription_id)),
            *_state_facts(plan, action, outcome is not None),
            Fact(title="Azure request", value=action.request.summary()),
        ]
        if spec.risk:
            facts.append(Fact(title="Risk", value=spec.risk))
        if spec.undo:
            facts.append(Fact(title="Undo", value=spec.undo))
        if outcome:
            facts.append(Fact(title="Outcome", value=f"{outcome.status} ({outcome.identity})"))
        elif plan.state.is_terminal:
            facts.append(Fact(title="Outcome", value="not run"))
        phrase = spec.describe_params(action.params)
        heading_text = f"{i + 1}. **{spec.label}** {r.resource_type.noun} **{literal(r.display)}**" + (
            f" {literal(phrase)}" if phrase else ""
        )
        items.append(Container(style="emphasis", spacing="Small", items=[text(heading_text), FactSet(facts=facts)]))
    return items


def _status_section(plan: Plan, now: datetime) -> list[Any]:
    label, color = STATE_STYLE[plan.state]
    body: list[Any] = [TextBlock(text=label, weight="Bolder", color=color, wrap=True)]  # type: ignore[arg-type]
    if plan.progress and plan.state in (PlanState.EXECUTING, PlanState.EXECUTING_AS_USER):
        body.append(text(literal(plan.progress), subtle=True))
    if line := messages.refusal_line(plan):  # the scope shortened ("web-01 in prod-rg"), as in the thread
        body.append(text(line))
    if plan.state is PlanState.DENIED:
        body.append(text(messages.denied_line(plan)))
    elif plan.state is PlanState.CREDENTIALS_DENIED:
        body.append(text(messages.declined_line(plan)))
    elif plan.reason and plan.state in (PlanState.FAILED, PlanState.EXPIRED, PlanState.INTERRUPTED):
        body.append(text(literal(plan.reason)))
    if step := messages.next_step(plan):
        body.append(text(step, subtle=True))
    return body


def _facts(plan: Plan, now: datetime) -> FactSet:
    approvals = ", ".join(literal(a.approver.name) for a in plan.approvals)
    counted = f"{len(plan.approvals)} of {plan.policy.approvals_required}" + (f" ({approvals})" if approvals else "")
    autonomous = plan.mode.value == "autonomous"  # consent is the response plan's: nobody's approval is awaited
    facts = [
        Fact(title="Requested by", value=literal(plan.requested_by.name)),
        Fact(title="Approvals", value="none needed (autonomous)" if autonomous else counted),
    ]
    if autonomous:
        facts.append(Fact(title="Mode", value="autonomous (incident response plan)"))
    if plan.state in (PlanState.AWAITING_CONSENT, PlanState.AWAITING_CREDENTIALS):
        facts.append(Fact(title="Time left", value=_time_left(plan, now)))
    facts += [Fact(title=title, value=value) for title, value in card_facts(plan, now)]  # waited, reminded, escalated
    # who denied or declined is told once, in the status text above
    if plan.credentials_by:
        facts.append(Fact(title="Credentials of", value=literal(plan.credentials_by.name)))
    facts.append(Fact(title="Plan", value=plan.id))
    return FactSet(facts=facts, spacing="Medium")


def _buttons(plan: Plan, viewer: Viewer) -> list[Any]:
    data = {"planId": plan.id, "planHash": plan.content_hash}
    if plan.state in PROPOSE_AGAIN_STATES:  # anyone in the conversation: the new plan is checked like any other
        return [ActionSet(actions=[ExecuteAction(title=messages.PROPOSE_AGAIN, verb=VERB_PROPOSE_AGAIN, data=data)])]
    if not viewer.can_act:
        return []
    if plan.state is PlanState.AWAITING_CONSENT:
        return [
            TextInput(id="reason", placeholder="Reason (optional, shown with a Deny)", max_length=500, spacing="Medium"),
            ActionSet(
                actions=[
                    ExecuteAction(title="Approve", verb=VERB_APPROVE, data=data, style="positive"),
                    ExecuteAction(title="Deny", verb=VERB_DENY, data=data, style="destructive"),
                ]
            ),
        ]
    if plan.state is PlanState.AWAITING_CREDENTIALS:
        return [
            TextInput(id="reason", placeholder="Reason (optional, shown with a Cancel)", max_length=500, spacing="Medium"),
            ActionSet(
                actions=[
                    ExecuteAction(title="Use my credentials", verb=VERB_GRANT, data=data, style="positive"),
                    ExecuteAction(title="Cancel", verb=VERB_CANCEL, data=data, style="destructive"),
                ]
            ),
        ]
    return []


def plan_card(
    plan: Plan, viewer: Viewer, now: datetime, *, refresh_user_ids: list[str] | None = None, sso: SsoSettings | None = None
) -> dict[str, Any]:
    """The card for `viewer`. Waiting states carry a `refresh` so each approver's client fetches their own view."""
    body: list[Any] = [
        # caller text (title, rationale, names, reasons) goes through literal(): no links or formatting of theirs
        heading(f"Execution plan: {literal(plan.title)}"),
        text(literal(plan.rationale), subtle=True),
        *_actions_section(plan),
        *_status_section(plan, now),
        _facts(plan, now),
        *_buttons(plan, viewer),
    ]
    fallback = f"Execution plan {plan.id}: {literal(plan.title)} ({plan.state.label})"  # clients that cannot render cards
    card = AdaptiveCard(version="1.5", body=body, fallback_text=fallback)
    if not plan.state.is_terminal:
        card.refresh = RefreshDefinition(
            action=ExecuteAction(title="Refresh", verb=VERB_REFRESH, data={"planId": plan.id}),
            user_ids=refresh_user_ids if refresh_user_ids is not None else None,
        )
    if plan.state is PlanState.AWAITING_CREDENTIALS and sso is not None:
        card.authentication = Authentication(
            text=messages.SIGN_IN_PROMPT,
            connection_name=sso.connection_name,
            token_exchange_resource=TokenExchangeResource(id=plan.id, uri=sso.app_id_uri),
            buttons=[AuthCardButton(type="signin", title="Sign in", value=sso.sign_in_url)] if sso.sign_in_url else None,
        )
    return dump(card)
