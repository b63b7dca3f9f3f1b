"""Plans to and from JSON-ready dicts (the stored form). Holds no token: the Plan has none."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ...domain.audit import AuditEvent
from ...domain.callbacks import Callback
from ...domain.consent import ConsentPolicy
from ...domain.follow_up import Escalation, FollowUp
from ...domain.operations import ArmRequest, by_key
from ...domain.plan import (
    AccessDenied,
    ActionOutcome,
    Approval,
    Mode,
    Person,
    Plan,
    PlannedAction,
    PlanState,
    ResourceRef,
    Source,
    Thread,
    ThreadKind,
)
from ...ports import MessageKind, OutboxMessage


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _person(p: Person | None) -> dict[str, Any] | None:
    return None if p is None else {"object_id": p.object_id, "name": p.name, "tenant_id": p.tenant_id, "teams_id": p.teams_id}


def _parse_person(d: dict[str, Any] | None) -> Person | None:
    return None if d is None else Person(d["object_id"], d["name"], d["tenant_id"], d.get("teams_id"))


def thread_to_dict(t: Thread | None) -> dict[str, Any] | None:
    return (
        None
        if t is None
        else {
            "service_url": t.service_url,
            "conversation_id": t.conversation_id,
            "tenant_id": t.tenant_id,
            "kind": t.kind,
            "card_activity_id": t.card_activity_id,
        }
    )


def thread_from_dict(t: dict[str, Any] | None) -> Thread | None:
    return (
        None
        if t is None
        else Thread(t["service_url"], t["conversation_id"], t["tenant_id"], ThreadKind(t["kind"]), t.get("card_activity_id"))
    )


def message_data(m: OutboxMessage) -> str:
    """The parts of an outbox message that are not columns of their own."""
    data = {"thread": thread_to_dict(m.thread), "text": m.text, "card": m.card, "reply_to": m.reply_to, "thread_ref": m.thread_ref}
    if m.payload is not None:
        data["payload"] = m.payload
    return json.dumps(data)


def message_from_row(seq: int, key: str, kind: str, plan_id: str | None, plan_version: int, data: str, attempts: int) -> OutboxMessage:
    d = json.loads(data)
    return OutboxMessage(
        MessageKind(kind),
        key,
        plan_id,
        plan_version,
        thread_from_dict(d.get("thread")),
        d.get("text"),
        d.get("card"),
        d.get("reply_to"),
        d.get("thread_ref"),
        seq,
        attempts,
        payload=d.get("payload"),
    )


def _policy(pol: ConsentPolicy) -> dict[str, Any]:
    return {
        "approvers": sorted(pol.approvers),
        "approver_group": pol.approver_group,
        "approvals_required": pol.approvals_required,
        "allow_self_approval": pol.allow_self_approval,
        "expiry_s": pol.expiry.total_seconds(),
        "credentials_expiry_s": pol.credentials_expiry.total_seconds(),
        "credentials_attempts": pol.credentials_attempts,
    }


def _outcome(o: ActionOutcome) -> dict[str, Any]:
    return {
        "index": o.index,
        "status": o.status,
        "identity": o.identity,
        "detail": o.detail,
        "started_at": _dt(o.started_at),
        "finished_at": _dt(o.finished_at),
    }


def action_to_dict(a: PlannedAction) -> dict[str, Any]:
    """An action as stored: the catalog entry's key, the resource, and the exact request with what the card showed."""
    r = a.request
    return {
        "operation": a.operation.key,
        "resource_id": a.resource.id,
        "request": {
            "method": r.method,
            "path": r.path,
            "api_version": r.api_version,
            "body": r.body,
            "if_match": r.if_match,
            "shown": list(r.shown),
        },
        "parameters": [list(p) for p in a.parameters],
        "before": [list(f) for f in a.before],
        "after": [list(f) for f in a.after],
    }


def action_from_dict(d: dict[str, Any]) -> PlannedAction:
    """An action as stored; one stored before actions carried their request (`{"operation": "restart", "resource_id"}`,
    a VM power action) gets the request its operation makes, as the bot of then would have sent it."""
    spec, ref = by_key(d["operation"]), ResourceRef.parse(d["resource_id"])
    stored = d.get("request")
    if stored is None:
        return PlannedAction(spec, ref)
    request = ArmRequest.of(
        stored["method"],
        stored["path"],
        stored["api_version"],
        stored.get("body"),
        stored.get("if_match"),
        tuple(stored.get("shown") or ()),
    )
    return PlannedAction(
        spec,
        ref,
        request,
        tuple((str(k), v) for k, v in d.get("parameters") or ()),
        tuple((str(k), str(v)) for k, v in d.get("before") or ()),
        tuple((str(k), str(v)) for k, v in d.get("after") or ()),
    )


def _observed(d: dict[str, Any]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The state read after actions ran; plans stored before kept only VM power states (`power_states`)."""
    if "observed" in d:
        return {k: tuple((str(a), str(b)) for a, b in v) for k, v in (d.get("observed") or {}).items()}
    return {k: (("Power state", str(v)),) for k, v in (d.get("power_states") or {}).items()}


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _follow_up(f: FollowUp) -> dict[str, Any]:
    return {
        "remind_after_s": _seconds(f.remind_after),
        "escalate_after_s": _seconds(f.escalate_after),
        "escalate_to": {"approvers": sorted(f.escalate_to.approvers), "group": f.escalate_to.group},
        "reminded_at": _dt(f.reminded_at),
        "escalated_at": _dt(f.escalated_at),
        "warned_at": _dt(f.warned_at),
    }


def _parse_follow_up(d: dict[str, Any] | None) -> FollowUp:
    if not d:
        return FollowUp()  # plans stored before reminders existed: none
    to = d.get("escalate_to") or {}
    return FollowUp(
        _delta(d.get("remind_after_s")),
        _delta(d.get("escalate_after_s")),
        Escalation(frozenset(to.get("approvers") or ()), to.get("group")),
        _parse_dt(d.get("reminded_at")),
        _parse_dt(d.get("escalated_at")),
        _parse_dt(d.get("warned_at")),
    )


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "title": plan.title,
        "rationale": plan.rationale,
        "actions": [action_to_dict(a) for a in plan.actions],
        "requested_by": _person(plan.requested_by),
        "policy": _policy(plan.policy),
        "created_at": _dt(plan.created_at),
        "expires_at": _dt(plan.expires_at),
        "mode": plan.mode.value,
        "source": plan.source.value,
        "thread": thread_to_dict(plan.thread),
        "incident_id": plan.incident_id,
        "state": plan.state.value,
        "version": plan.version,
        "approvals": [{"approver": _person(a.approver), "at": _dt(a.at)} for a in plan.approvals],
        "decided_by": _person(plan.decided_by),
        "reason": plan.reason,
        "next_action": plan.next_action,
        "outcomes": [_outcome(o) for o in plan.outcomes],
        "access_denied": None
        if plan.access_denied is None
        else {
            "permission": plan.access_denied.permission,
            "scope": plan.access_denied.scope,
            "identity": plan.access_denied.identity,
            "message": plan.access_denied.message,
        },
        "credentials_by": _person(plan.credentials_by),
        "started_at": _dt(plan.started_at),
        "finished_at": _dt(plan.finished_at),
        "progress": plan.progress,
        "observed": {k: [list(f) for f in v] for k, v in plan.observed.items()},
        "asked_in": thread_to_dict(plan.asked_in),
        "hash_form": plan.hash_form,
        "origin": plan.origin,
        "follow_up": _follow_up(plan.follow_up),
        "callback": None if plan.callback is None else {"url": plan.callback.url, "app_id": plan.callback.app_id},
    }


def plan_from_dict(d: dict[str, Any]) -> Plan:
    pol = d["policy"]
    t = d.get("thread")
    ad = d.get("access_denied")
    requested_by = _parse_person(d["requested_by"])
    assert requested_by is not None
    return Plan(
        id=d["id"],
        title=d["title"],
        rationale=d["rationale"],
        actions=tuple(action_from_dict(a) for a in d["actions"]),
        requested_by=requested_by,
        policy=ConsentPolicy(
            approvers=frozenset(pol["approvers"]),
            approver_group=pol.get("approver_group"),
            approvals_required=pol["approvals_required"],
            allow_self_approval=pol["allow_self_approval"],
            expiry=timedelta(seconds=pol["expiry_s"]),
            credentials_expiry=timedelta(seconds=pol["credentials_expiry_s"]),
            credentials_attempts=pol.get("credentials_attempts", 1),  # plans stored before the setting existed
        ),
        created_at=_parse_dt(d["created_at"]) or datetime.min,
        expires_at=_parse_dt(d["expires_at"]) or datetime.min,
        mode=Mode(d["mode"]),
        source=Source(d["source"]),
        thread=thread_from_dict(t),
        incident_id=d.get("incident_id"),
        state=PlanState(d["state"]),
        version=d["version"],
        approvals=tuple(Approval(_parse_person(a["approver"]), _parse_dt(a["at"])) for a in d["approvals"]),  # type: ignore[arg-type]
        decided_by=_parse_person(d.get("decided_by")),
        reason=d.get("reason"),
        next_action=d["next_action"],
        outcomes=tuple(
            ActionOutcome(o["index"], o["status"], o["identity"], o["detail"], _parse_dt(o["started_at"]), _parse_dt(o["finished_at"]))  # type: ignore[arg-type]
            for o in d["outcomes"]
        ),
        access_denied=None if ad is None else AccessDenied(ad["permission"], ad["scope"], ad["identity"], ad["message"]),
        credentials_by=_parse_person(d.get("credentials_by")),
        started_at=_parse_dt(d.get("started_at")),
        finished_at=_parse_dt(d.get("finished_at")),
        progress=d.get("progress"),
        observed=_observed(d),
        asked_in=thread_from_dict(d.get("asked_in")),
        hash_form=d.get("hash_form", 1),  # stored before it existed: the digest its cards carry is the first form
        origin=d.get("origin"),  # None for plans stored before plans knew their origin
        follow_up=_parse_follow_up(d.get("follow_up")),
        callback=None if not d.get("callback") else Callback(d["callback"]["url"], d["callback"]["app_id"]),
    )


def event_to_row(e: AuditEvent) -> tuple[Any, ...]:
    return (_dt(e.at), e.plan_id, e.actor, e.actor_name, e.event, e.from_state, e.to_state, json.dumps(e.detail, sort_keys=True))


def event_from_row(row: tuple[Any, ...]) -> AuditEvent:
    seq, at, plan_id, actor, actor_name, event, from_state, to_state, detail = row
    return AuditEvent(_parse_dt(at) or datetime.min, plan_id, actor, actor_name, event, from_state, to_state, json.loads(detail), seq)
