"""The incident card that opens a channel thread when an alert matches a response plan."""

from __future__ import annotations

from typing import Any

from microsoft_teams.cards import AdaptiveCard, Fact, FactSet, TextBlock

from bot.domain.card_times import card_time_of
from bot.domain.incident import Alert, ResponsePlan
from bot.domain.markdown import literal

from .common import dump, heading, text


def incident_card(alert: Alert, plan: ResponsePlan, withheld: str | None = None) -> dict[str, Any]:
    """What fired, on what, and what the response plan will do about it.

    `withheld` says why an autonomous response plan waits for a responder this time (`plan` is then in review mode).
    """
    autonomous = plan.mode.value == "autonomous"
    when = (
        "now, without waiting for approval (autonomous mode). If its own identity is refused, a responder will be asked for credentials."
        if autonomous
        else "once a responder approves the plan below."
    )
    op = plan.operation
    what = f"Response plan **{literal(plan.name)}**: the agent will {op.label.lower()} the affected {op.rtype.noun}s {when}"
    facts = [
        Fact(title="Severity", value=alert.severity),
        Fact(title="Condition", value=alert.condition),
    ]
    if alert.signal_type:
        facts.append(Fact(title="Signal", value=literal(alert.signal_type)))
    facts += [
        Fact(title="Targets", value=literal(", ".join(t.rsplit("/", 1)[-1] for t in alert.targets)) or "none"),
    ]
    # the alert's own text (rule, description, targets) goes through literal(): no links or formatting of theirs
    body: list[Any] = [heading(f"\U0001f6a8 {alert.severity} alert: {literal(alert.rule)}")]
    if alert.fired_at:  # in the reader's own time zone: Adaptive Card DATE/TIME functions, which work in TextBlocks
        body.append(text(f"Fired {card_time_of(alert.fired_at)}", subtle=True))
    if alert.description:
        body.append(text(literal(alert.description), subtle=True))
    body += [FactSet(facts=facts), TextBlock(text=what, wrap=True, spacing="Medium")]
    if withheld:
        body.append(TextBlock(text=f"\u26a0\ufe0f {withheld}", wrap=True, color="Warning", spacing="Medium"))
    return dump(AdaptiveCard(version="1.5", body=body, fallback_text=f"{literal(alert.severity)} alert: {literal(alert.rule)}"))
