"""What an agent reads about its plan: the JSON of `GET /api/plans/{id}`, its ETag, and the event a change sends.

One representation for every way an agent learns about its plan (the HTTP answer, the MCP tools' structuredContent,
the data of each callback event), so they never disagree. No conversation internals, no token, no secret.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from .plan import TERMINAL_STATES, Plan, PlannedAction, PlanState

# CloudEvents `type` of the event a change of state sends: this prefix (reverse DNS, the project's choosing), then
# `.plan.<state>` with the state as `GET /api/plans/{id}` names it (https://github.com/cloudevents/spec, "type")
EVENT_TYPE_PREFIX = "io.github.sre-consent-bot"
# the final states an agent waits for (`wait_for_plan`): succeeded, failed, denied, expired, credentials declined, not
# authorized, interrupted; nothing happens to the plan after these
FINAL_STATES: frozenset[PlanState] = TERMINAL_STATES


def plan_summary(plan: Plan) -> dict[str, Any]:
    """What an agent may read back about its plan (no conversation internals, no secrets)."""
    return {
        "id": plan.id,
        "title": plan.title,
        "state": plan.state.value,
        "mode": plan.mode.value,
        "approvalsRequired": plan.policy.approvals_required,
        "approvedBy": [a.approver.name for a in plan.approvals],
        "expiresAt": plan.expires_at.isoformat(),
        "actions": [
            {
                **action_summary(a),
                "outcome": next(
                    ({"status": o.status, "identity": o.identity, "detail": o.detail} for o in reversed(plan.outcomes) if o.index == i),
                    None,
                ),
            }
            for i, a in enumerate(plan.actions)
        ],
        "accessDenied": None
        if plan.access_denied is None
        else {"permission": plan.access_denied.permission, "scope": plan.access_denied.scope},
    }


def action_summary(a: PlannedAction) -> dict[str, Any]:
    """An action as an agent reads it back: the operation, the resource, the parameters and the exact request."""
    r = a.request
    return {
        "operation": a.operation.word,
        "resourceType": a.operation.rtype.name,
        "resourceId": a.resource.id,
        "parameters": a.params,
        "request": {"method": r.method, "path": r.path, "apiVersion": r.api_version, "body": r.body},
    }


def etag(plan: Plan) -> str:
    """The entity tag of the plan's representation (a strong validator, RFC 9110 8.8.3): a digest of `plan_summary`,
    so it changes with every change of the plan an agent can see, and only then (a card posted or a progress line on
    it changes the stored plan, not what the agent reads)."""
    digest = hashlib.sha256(json.dumps(plan_summary(plan), sort_keys=True).encode()).hexdigest()[:24]
    return f'"{digest}"'


def event_id(plan: Plan, notice: str | None = None) -> str:
    """The id of the event about this version of the plan: the CloudEvents `id` and the Standard Webhooks
    `webhook-id`, the same on every retry of its delivery."""
    return f"evt_{plan.id}_{plan.version}" + (f"_{notice}" if notice else "")


def plan_event(plan: Plan, source: str, at: datetime, notice: str | None = None) -> dict[str, Any]:
    """The CloudEvents 1.0 event (structured mode) saying the plan reached its current state, or with `notice` (such
    as `expiring`) something about it that is not a change of state; `source` is the plan's URL
    (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md, required and optional attributes)."""
    return {
        "specversion": "1.0",
        "id": event_id(plan, notice),
        "source": source,
        "type": f"{EVENT_TYPE_PREFIX}.plan.{notice or plan.state.value}",
        "subject": plan.id,
        "time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": plan_summary(plan),
    }
