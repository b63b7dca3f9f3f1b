"""An Azure Monitor alert arrives: each matching response plan opens a channel thread and proposes its plan."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.consent import ConsentPolicy
from ..domain.errors import ConcurrentUpdate
from ..domain.incident import Alert, AlertAuth, AlertCheck, AlertStatus, ResponsePlan, autonomy_withheld
from ..domain.markdown import literal
from ..domain.operations import Unplannable
from ..domain.plan import WAITING_STATES, Mode, Person, Plan, PlannedAction, ResourceRef, Source, Thread, ThreadKind
from ..domain.scope import TargetSelection, describe, select_targets
from ..ports import UnitOfWork
from . import messages
from .deps import SYSTEM, Deps, notify
from .planning import prepare
from .propose_plan import PlanRequest, new_plan_id, stage_proposal, start_if_approved
from .results import result_text

log = logging.getLogger(__name__)
# (alert, response plan, why an autonomous plan waits for review instead, or None) -> the incident card
IncidentCard = Callable[[Alert, ResponsePlan, str | None], dict[str, Any]]


@dataclass(frozen=True)
class AlertOutcome:
    matched: tuple[str, ...]
    plans: tuple[Plan, ...] = ()
    withheld: tuple[tuple[str, str], ...] = ()  # (response plan, why it runs in review mode instead of autonomous)
    expired: tuple[Plan, ...] = ()  # Resolved: the waiting plans it closed
    ignored: str | None = None  # Resolved: why it changed nothing (Azure Monitor does not confirm it)

    def as_dict(self, alert: Alert, auth: AlertAuth) -> dict[str, Any]:
        """What processing did, as stored with the inbox entry (and logged)."""
        return {
            "alertId": alert.alert_id,
            "condition": alert.condition,
            "authentication": auth.value,
            "matched": list(self.matched),
            "plans": [{"id": p.id, "state": p.state.value, "mode": p.mode.value} for p in self.plans],
            "reviewInstead": [{"responsePlan": name, "reason": reason} for name, reason in self.withheld],
            "expired": [p.id for p in self.expired],
            **({"ignored": self.ignored} if self.ignored else {}),
        }


MAX_ATTEMPTS = 20  # a retry means a plan of the incident moved while the Resolved notice was being written


class ResolutionUnconfirmed(RuntimeError):
    """Azure Monitor could not be asked whether a secret-only "Resolved" is real: the inbox tries it again later."""


async def handle_alert(
    deps: Deps,
    alert: Alert,
    response_plans: list[ResponsePlan],
    policy: ConsentPolicy,
    card: IncidentCard,
    auth: AlertAuth,
    autonomous_requires_secure: bool = True,
    inbox_key: str | None = None,
) -> AlertOutcome:
    """Act on one alert delivery taken from the inbox: open threads and propose plans when Fired; when Resolved,
    tell the threads and expire the plans still waiting. Everything it writes (plans, audit, messages to Teams, and
    the inbox entry `inbox_key` marked processed with its outcome) is one unit of work: a failure leaves nothing
    half-done, and the inbox tries the delivery again.

    An autonomous response plan acts at once only for an alert that came through the secure webhook (unless
    `autonomous_requires_secure` is off) and that Azure Monitor confirms is real, firing, and on the targets
    acted on; otherwise it is proposed in review mode and the incident card says why.

    A store may commit such a unit of work plan by plan, then the inbox entry (Table Storage: one transaction per
    partition). Processing the delivery again after a failure in between is idempotent: each plan's id derives from the
    delivery and its response plan, and a plan already stored (with its thread and card: one transaction) is kept,
    not proposed again.
    """
    matched = tuple(p.name for p in response_plans if p.matches(alert))
    if alert.condition == "Resolved":
        doubt = await _resolution_doubted(deps, alert, auth)
        if doubt is not None:
            return await _ignored(deps, alert, matched, auth, inbox_key, doubt)
        return await _resolved(deps, alert, matched, auth, inbox_key)
    decided = await _decide(deps, alert, [p for p in response_plans if p.matches(alert)], auth, autonomous_requires_secure)
    ids = {d.response_plan.name: alert_plan_id(inbox_key, d.response_plan.name) for d in decided}
    earlier = await _stored_before(deps, [ids[d.response_plan.name] for d in decided if d.actions])
    proposed = []
    async with deps.store.unit_of_work() as uow:
        for decision in decided:
            plan_id = ids[decision.response_plan.name]
            if plan_id in earlier:  # stored by an attempt that died before the inbox entry was marked: not twice
                proposed.append(earlier[plan_id])
            elif plan := _open_incident_thread(deps, uow, alert, decision, policy, card, auth, plan_id):
                proposed.append(plan)
        withheld = tuple((d.response_plan.name, d.withheld) for d in decided if d.withheld is not None)
        outcome = AlertOutcome(matched, tuple(proposed), withheld)
        if inbox_key is not None:
            uow.alert_processed(inbox_key, outcome.as_dict(alert, auth))
    for plan in proposed:
        start_if_approved(deps, plan)
    return outcome


@dataclass(frozen=True)
class _Decision:
    """What one matching response plan will do with the alert: on which targets, in which mode, and why not
    autonomous when it was meant to be."""

    response_plan: ResponsePlan
    selection: TargetSelection
    mode: Mode
    withheld: str | None
    actions: tuple[PlannedAction, ...] = ()  # the targets acted on, each planned on its state read now
    unplanned: tuple[tuple[ResourceRef, str], ...] = ()  # targets that could not be planned, and why


async def _decide(
    deps: Deps, alert: Alert, matching: list[ResponsePlan], auth: AlertAuth, autonomous_requires_secure: bool
) -> list[_Decision]:
    """Each response plan's targets and mode, decided before anything is written (Azure Monitor is asked at most once
    per notification, and only when an autonomous plan would act)."""
    confirmation: list[AlertCheck] = []
    decided = []
    for rp in matching:
        # targets of the operation's type, in the plan's own scopes (inside ALLOWED_SCOPES), each once, at most max_targets
        selection = select_targets(alert.targets_of(rp.operation.rtype.name), rp.scopes, rp.max_targets)
        targets = list(selection.acted_on)
        mode, reason = rp.mode, None
        if rp.mode is Mode.AUTONOMOUS and targets:
            check = None
            if auth is AlertAuth.SECURE_WEBHOOK or not autonomous_requires_secure:
                if not confirmation:
                    confirmation.append(await _confirm(deps, alert))
                check = confirmation[0]
            reason = autonomy_withheld(auth, autonomous_requires_secure, check, targets)
            if reason is not None:
                mode = Mode.REVIEW
                log.warning("alert %s: response plan %s runs in review mode: %s", alert.alert_id, rp.name, reason)
        actions, unplanned = await _plan(deps, rp, selection.acted_on)
        decided.append(_Decision(rp, selection, mode, reason, actions, unplanned))
    return decided


async def _plan(
    deps: Deps, rp: ResponsePlan, targets: tuple[ResourceRef, ...]
) -> tuple[tuple[PlannedAction, ...], tuple[tuple[ResourceRef, str], ...]]:
    """The response plan's operation on each target, planned on its state read now (what the card shows)."""
    actions, unplanned = [], []
    for target in targets:
        try:
            actions.append(await prepare(deps, rp.operation, target, rp.parameters))
        except Unplannable as u:
            unplanned.append((target, u.message))
    return tuple(actions), tuple(unplanned)


def alert_plan_id(inbox_key: str | None, response_plan: str) -> str:
    """The id of the plan a response plan proposes for one alert delivery: derived from both, so processing the
    delivery again finds the plan an earlier attempt stored (random without a delivery key)."""
    if inbox_key is None:
        return new_plan_id()
    return "p-" + hashlib.sha256(f"{inbox_key}\n{response_plan}".encode()).hexdigest()[:12]


async def _stored_before(deps: Deps, ids: list[str]) -> dict[str, Plan]:
    """The alert's plans already in the store (an earlier attempt committed them, then failed before the end)."""
    found = {}
    for plan_id in ids:
        if (plan := await deps.store.get(plan_id)) is not None:
            found[plan_id] = plan
    return found


def _open_incident_thread(
    deps: Deps,
    uow: UnitOfWork,
    alert: Alert,
    decision: _Decision,
    policy: ConsentPolicy,
    card: IncidentCard,
    auth: AlertAuth,
    plan_id: str,
) -> Plan | None:
    """Open the response plan's channel thread with the incident card, say what it leaves alone, and stage its plan
    (None when no target is left to act on). The thread's messages belong to the plan (kept with it, one transaction)
    when there is one."""
    rp, selection, mode, reason = decision.response_plan, decision.selection, decision.mode, decision.withheld
    channel = Thread(rp.service_url, rp.channel_id, rp.tenant_id, ThreadKind.CHANNEL)
    about = plan_id if decision.actions else None
    opening, thread = messages.open_thread(channel, card(alert, replace(rp, mode=mode), reason), about)
    uow.send(opening)
    if selection.out_of_scope or selection.over_cap:
        uow.send(messages.say(thread, _left_alone(rp, selection.out_of_scope, selection.over_cap), plan_id=about))
    for target, why in decision.unplanned:
        say = f"Response plan {rp.name} cannot act on {literal(target.display)}: {literal(why)}."
        uow.send(messages.say(thread, say, plan_id=about))
    noun = rp.operation.rtype.noun
    if not decision.actions:
        uow.send(
            messages.say(
                thread, f"This alert names no {noun} inside the response plan's scopes, so the response plan has nothing to act on."
            )
        )
        return None
    names = ", ".join(a.resource.display for a in decision.actions)
    phrase = rp.operation.describe_params(dict(rp.parameters))
    responder = Person(object_id=f"response-plan:{rp.name}", name=f"response plan {rp.name}", tenant_id=rp.tenant_id)
    request = PlanRequest(
        title=f"{rp.operation.label} {noun} {names}" + (f" {phrase}" if phrase else ""),
        rationale=f"Alert {alert.rule} ({alert.severity}) fired on {names}; response plan {rp.name}.",
        actions=decision.actions,
        requested_by=responder,
        policy=replace(policy, approvers=rp.responders, approver_group=None, approvals_required=rp.approvals_required),
        thread=thread,
        mode=mode,
        source=Source.INCIDENT,
        incident_id=alert.alert_id,
        follow_up=rp.follow_up,  # its own reminders and escalation, if it sets them
        plan_id=plan_id,
        origin=rp.name,
    )
    plan = stage_proposal(deps, uow, request)
    if reason is not None:
        uow.record(deps.event(plan, responder, AuditEventName.AUTONOMY_WITHHELD, reason=reason, authentication=auth.value))
    return plan


async def _resolved(deps: Deps, alert: Alert, matched: tuple[str, ...], auth: AlertAuth, inbox_key: str | None) -> AlertOutcome:
    """Tell each of the incident's threads; the plans still waiting for consent or credentials expire, saying why."""
    notice = f"\u2705 Azure Monitor reports the alert **{literal(alert.rule)}** resolved."
    reason = f"Azure Monitor reported the alert {alert.rule} resolved before the plan ran; nothing more will be done."
    for _ in range(MAX_ATTEMPTS):
        expired = []
        try:
            async with deps.store.unit_of_work() as uow:
                for plan in await deps.store.for_incident(alert.alert_id):
                    if plan.thread is not None:
                        for m in messages.reply(plan, notice):
                            uow.send(m)
                    if plan.state in WAITING_STATES:
                        after = transitions.withdraw(plan, deps.clock.now(), reason)
                        saved = uow.save(after, expected_version=plan.version)
                        uow.record(deps.event(saved, SYSTEM, AuditEventName.PLAN_EXPIRED, plan, reason="alert resolved"))
                        notify(uow, saved, card=True, reply=result_text(saved))
                        deps.tell_agent(uow, plan, saved)
                        expired.append(saved)
                outcome = AlertOutcome(matched, expired=tuple(expired))
                if inbox_key is not None:
                    uow.alert_processed(inbox_key, outcome.as_dict(alert, auth))
        except ConcurrentUpdate:
            continue  # a plan moved meanwhile (approved, say): decide again on what it is now
        return outcome
    raise RuntimeError(f"alert {alert.alert_id}: the Resolved notice could not be stored")


async def _resolution_doubted(deps: Deps, alert: Alert, auth: AlertAuth) -> str | None:
    """Why a "Resolved" must not withdraw anything (None: it may). The secure webhook is Azure Monitor's own word; a
    delivery with only the URL secret could come from anyone who saw the URL, so Azure Monitor's Alerts Management API
    must say the alert is resolved. Raises ResolutionUnconfirmed when Azure Monitor could not be asked (tried again)."""
    if auth is AlertAuth.SECURE_WEBHOOK:
        return None
    if deps.alerts is None:
        return "it carried only the webhook secret and the bot cannot read Azure Monitor's alerts to confirm it"
    check = await deps.alerts.get(alert.alert_id)
    if check.status is AlertStatus.RESOLVED:
        return None
    if check.status is AlertStatus.UNAVAILABLE:
        raise ResolutionUnconfirmed(f"alert {alert.alert_id}: Azure Monitor could not be asked whether it is resolved")
    if check.status is AlertStatus.FIRED:
        return "it carried only the webhook secret and Azure Monitor still reports the alert firing"
    return "it carried only the webhook secret and Azure Monitor knows no alert with this id"


async def _ignored(deps: Deps, alert: Alert, matched: tuple[str, ...], auth: AlertAuth, inbox_key: str | None, why: str) -> AlertOutcome:
    """A "Resolved" nobody can vouch for: nothing is withdrawn or said in the threads; the delivery is marked done."""
    log.warning("alert %s: a Resolved notice changed nothing: %s (it may be forged)", alert.alert_id, why)
    outcome = AlertOutcome(matched, ignored=f"Nothing was withdrawn: {why}.")
    if inbox_key is not None:
        async with deps.store.unit_of_work() as uow:
            uow.alert_processed(inbox_key, outcome.as_dict(alert, auth))
    return outcome


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
            + ", ".join(f"{r.display} ({r.resource_group}, subscription {r.subscription_id})" for r in outside)
        )
        log.warning("response plan %s: %d alert target(s) outside its scopes left alone", rp.name, len(outside))
    if over_cap:
        parts.append(f"{len(over_cap)} target(s) beyond its limit of {rp.max_targets} per alert: " + ", ".join(r.display for r in over_cap))
    return (
        f"Response plan {rp.name} leaves alone "
        + "; and ".join(parts)
        + ". Act on them by hand if needed, or ask an administrator to change the response plan."
    )
