"""An Azure Monitor alert arrives: each matching response plan opens a channel thread and proposes its plan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..domain.audit import AuditEventName
from ..domain.consent import ConsentPolicy
from ..domain.incident import Alert, AlertAuth, AlertCheck, AlertStatus, ResponsePlan, autonomy_withheld
from ..domain.markdown import literal
from ..domain.plan import Mode, Person, Plan, PlannedAction, ResourceRef, Source, Thread, ThreadKind
from ..domain.scope import describe, select_targets
from .deps import Deps
from .propose_plan import PlanRequest, propose_plan

log = logging.getLogger(__name__)
# (alert, response plan, why an autonomous plan waits for review instead, or None) -> the incident card
IncidentCard = Callable[[Alert, ResponsePlan, str | None], dict[str, Any]]


@dataclass(frozen=True)
class AlertOutcome:
    duplicate: bool
    matched: tuple[str, ...]
    plans: tuple[Plan, ...] = ()
    withheld: tuple[tuple[str, str], ...] = ()  # (response plan, why it runs in review mode instead of autonomous)


async def handle_alert(
    deps: Deps,
    alert: Alert,
    response_plans: list[ResponsePlan],
    policy: ConsentPolicy,
    card: IncidentCard,
    auth: AlertAuth,
    autonomous_requires_secure: bool = True,
) -> AlertOutcome:
    """Act once per alert and condition: open threads and propose plans when Fired, tell them when Resolved.

    An autonomous response plan acts at once only for an alert that came through the secure webhook (unless
    `autonomous_requires_secure` is off) and that Azure Monitor confirms is real, firing, and on the targets
    acted on; otherwise it is proposed in review mode and the incident card says why.
    """
    matched = tuple(p.name for p in response_plans if p.matches(alert))
    if not await deps.store.first_delivery(alert.key):
        return AlertOutcome(True, matched)
    if alert.condition == "Resolved":
        for plan in await deps.store.for_incident(alert.alert_id):
            if plan.thread is not None:
                await deps.notifier.say(plan.thread, f"\u2705 Azure Monitor reports the alert **{literal(alert.rule)}** resolved.")
        return AlertOutcome(False, matched)
    proposed, withheld = [], []
    checked: list[AlertCheck] = []  # Azure Monitor is asked at most once per notification
    for rp in (p for p in response_plans if p.matches(alert)):
        # only the plan's own scopes (inside ALLOWED_SCOPES), each VM once, at most max_targets of them
        selection = select_targets(alert.vm_targets(), rp.scopes, rp.max_targets)
        targets = list(selection.acted_on)
        mode, reason = rp.mode, None
        if rp.mode is Mode.AUTONOMOUS and targets:
            check = None
            if auth is AlertAuth.SECURE_WEBHOOK or not autonomous_requires_secure:
                if not checked:
                    checked.append(await _confirm(deps, alert))
                check = checked[0]
            reason = autonomy_withheld(auth, autonomous_requires_secure, check, targets)
            if reason is not None:
                mode = Mode.REVIEW
                withheld.append((rp.name, reason))
                log.warning("alert %s: response plan %s runs in review mode: %s", alert.alert_id, rp.name, reason)
        channel = Thread(rp.service_url, rp.channel_id, rp.tenant_id, ThreadKind.CHANNEL)
        thread = await deps.notifier.open_thread(channel, card(alert, replace(rp, mode=mode), reason))
        if selection.out_of_scope or selection.over_cap:
            await deps.notifier.say(thread, _left_alone(rp, selection.out_of_scope, selection.over_cap))
        if not targets:
            await deps.notifier.say(
                thread, "This alert names no virtual machine inside the response plan's scopes, so the response plan has nothing to act on."
            )
            continue
        names = ", ".join(t.name for t in targets)
        responder = Person(object_id=f"response-plan:{rp.name}", name=f"response plan {rp.name}", tenant_id=rp.tenant_id)
        request = PlanRequest(
            title=f"{rp.operation.label} VM {names}",
            rationale=f"Alert {alert.rule} ({alert.severity}) fired on {names}; response plan {rp.name}.",
            actions=tuple(PlannedAction(rp.operation, t) for t in targets),
            requested_by=responder,
            policy=replace(policy, approvers=rp.responders, approver_group=None, approvals_required=rp.approvals_required),
            thread=replace(thread, card_activity_id=None),
            mode=mode,
            source=Source.INCIDENT,
            incident_id=alert.alert_id,
        )
        plan = await propose_plan(deps, request)
        if reason is not None:
            await deps.record(plan, responder, AuditEventName.AUTONOMY_WITHHELD, reason=reason, authentication=auth.value)
        proposed.append(plan)
    return AlertOutcome(False, matched, tuple(proposed), tuple(withheld))


async def _confirm(deps: Deps, alert: Alert) -> AlertCheck:
    """Azure Monitor's record of the alert, read with the agent identity (no reader: nothing is confirmed)."""
    if deps.alerts is None:
        return AlertCheck(AlertStatus.UNAVAILABLE, detail="the bot has no access to Azure Monitor's alerts")
    return await deps.alerts.get(alert.alert_id)


def _left_alone(rp: ResponsePlan, outside: tuple[ResourceRef, ...], over_cap: tuple[ResourceRef, ...]) -> str:
    """Tell the responders which targets the plan does not touch, and why."""
    parts = []
    if outside:
        parts.append(
            f"{len(outside)} target(s) outside its scopes ({describe(rp.scopes)}): "
            + ", ".join(f"{r.name} ({r.resource_group}, subscription {r.subscription_id})" for r in outside)
        )
        log.warning("response plan %s: %d alert target(s) outside its scopes left alone", rp.name, len(outside))
    if over_cap:
        parts.append(f"{len(over_cap)} target(s) beyond its limit of {rp.max_targets} per alert: " + ", ".join(r.name for r in over_cap))
    return (
        f"Response plan {rp.name} leaves alone "
        + "; and ".join(parts)
        + ". Act on them by hand if needed, or ask an administrator to change the response plan."
    )
