"""`POST /api/plans` and `GET /api/plans/{id}`: plans from agents, authenticated with Entra app tokens.

A caller presents an access token for the bot's API (client credentials) holding the configured
app role (default `Plans.Submit`). Bad bodies get 400 with every field error listed.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aiohttp import web

from ...domain.errors import Refusal, RefusalCode
from ...domain.plan import Mode, Operation, Person, Plan, PlannedAction, ResourceRef, Source, Thread
from ...domain.scope import in_scopes, out_of_scope_message
from ...services.propose_plan import PlanRequest, propose_plan
from ..azure.tokens import TokenRejected

log = logging.getLogger(__name__)
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
OPERATIONS = {o.value.lower(): o for o in Operation} | {"stop": Operation.POWER_OFF, "poweroff": Operation.POWER_OFF}
MAX_ACTIONS = 20


class PlansApi:
    def __init__(self, container: Any) -> None:
        self.c = container

    async def _caller(self, request: web.Request) -> dict[str, Any]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise _unauthorized("a Bearer token for the bot's API is required")
        s = self.c.settings
        try:
            claims: dict[str, Any] = await self.c.validator.validate(header[7:], [s.api_audience, s.sso_client_id])
        except TokenRejected as e:
            raise _unauthorized(e.reason) from None
        if s.api_role not in (claims.get("roles") or []):
            raise web.HTTPForbidden(text=_json_error(f"the caller lacks the app role {s.api_role}"), content_type="application/json")
        return claims

    async def submit(self, request: web.Request) -> web.Response:
        claims = await self._caller(request)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"errors": [{"field": "", "message": "the body is not valid JSON"}]}, status=400)
        errors: list[dict[str, str]] = []
        plan_request = self._parse(body, claims, errors)
        if errors or plan_request is None:
            return web.json_response({"errors": errors}, status=400)
        try:
            plan = await propose_plan(self.c.deps, plan_request)
        except Refusal as r:
            field = "actions" if r.code is RefusalCode.OUT_OF_SCOPE else "mode"
            return web.json_response({"errors": [{"field": field, "message": r.message}]}, status=400)
        url = f"/api/plans/{plan.id}"
        return web.json_response({"id": plan.id, "state": plan.state.value, "url": url}, status=202, headers={"Location": url})

    async def get(self, request: web.Request) -> web.Response:
        await self._caller(request)
        plan = await self.c.deps.store.get(request.match_info["plan_id"])
        if plan is None:
            return web.json_response({"error": "no such plan"}, status=404)
        return web.json_response(plan_summary(plan))

    def _parse(self, body: Any, claims: dict[str, Any], errors: list[dict[str, str]]) -> PlanRequest | None:
        def err(field: str, message: str) -> None:
            errors.append({"field": field, "message": message})

        if not isinstance(body, dict):
            err("", "the body must be a JSON object")
            return None
        title, rationale = body.get("title"), body.get("rationale", "")
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            err("title", "required: a string of 1 to 200 characters")
        if not isinstance(rationale, str) or len(rationale) > 2000:
            err("rationale", "a string of at most 2000 characters")
        actions: list[PlannedAction] = []
        raw_actions = body.get("actions")
        if not isinstance(raw_actions, list) or not 1 <= len(raw_actions) <= MAX_ACTIONS:
            err("actions", f"required: a list of 1 to {MAX_ACTIONS} actions")
            raw_actions = []
        for i, a in enumerate(raw_actions):
            if not isinstance(a, dict):
                err(f"actions[{i}]", "must be an object with operation and resourceId")
                continue
            op = OPERATIONS.get(str(a.get("operation", "")).lower())
            if op is None:
                err(f"actions[{i}].operation", f"one of {', '.join(o.value for o in Operation)}")
            try:
                ref = ResourceRef.parse(str(a.get("resourceId", "")))
            except ValueError as e:
                err(f"actions[{i}].resourceId", str(e))
                continue
            if not in_scopes(ref, self.c.settings.allowed_scopes):
                err(f"actions[{i}].resourceId", out_of_scope_message(ref, self.c.settings.allowed_scopes))
                continue
            if op is not None:
                actions.append(PlannedAction(op, ref))
        mode = body.get("mode", "review")
        if mode != "review":
            err("mode", "only 'review' is accepted here: autonomous mode exists only inside an incident response plan")
        policy = self.c.settings.policy
        approvers = body.get("approvers")
        if approvers is not None:
            if not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) and GUID.match(a) for a in approvers):
                err("approvers", "a non-empty list of Entra object ids (GUIDs)")
            else:
                policy = replace(policy, approvers=frozenset(approvers))
        required = body.get("approvalsRequired")
        if required is not None:
            if not isinstance(required, int) or isinstance(required, bool) or not 1 <= required <= max(1, len(policy.approvers)):
                err("approvalsRequired", f"a whole number from 1 to the number of approvers ({len(policy.approvers)})")
            else:
                policy = replace(policy, approvals_required=required)
        minutes = body.get("expiresInMinutes")
        if minutes is not None:
            if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 1 <= minutes <= 24 * 60:
                err("expiresInMinutes", "a number of minutes from 1 to 1440")
            else:
                policy = replace(policy, expiry=timedelta(minutes=minutes))
        thread = self._target(body.get("target"), claims, err)
        requested = body.get("requestedBy") or {}
        name = requested.get("name") if isinstance(requested, dict) else None
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            err("requestedBy.name", "a string of at most 100 characters")
            name = None
        if errors:
            return None
        assert isinstance(title, str) and isinstance(rationale, str)
        caller = Person(object_id=str(claims.get("oid")), name=name or f"agent {claims.get('appid') or claims.get('azp')}",
                        tenant_id=str(claims.get("tid")))
        return PlanRequest(title=title.strip(), rationale=rationale.strip() or "(no rationale given)",
                           actions=tuple(actions), requested_by=caller, policy=policy, thread=thread,
                           mode=Mode.REVIEW, source=Source.API)

    def _target(self, target: Any, claims: dict[str, Any], err: Any) -> Thread | None:
        if not isinstance(target, dict):
            err("target", "required: {conversationId} or {channelId}, with optional serviceUrl and tenantId")
            return None
        service_url = target.get("serviceUrl") or self.c.settings.teams_service_url
        if not isinstance(service_url, str) or not service_url.startswith(("https://", "http://")):
            err("target.serviceUrl", "an http(s) URL of the Bot Connector")
            return None
        tenant = target.get("tenantId") or claims.get("tid")
        if "channelId" in target:
            channel = target["channelId"]
            if not isinstance(channel, str) or not channel.startswith("19:"):
                err("target.channelId", "a Teams channel id (19:...@thread.tacv2)")
                return None
            return Thread(service_url, channel, str(tenant), "channel")
        conversation = target.get("conversationId")
        if not isinstance(conversation, str) or not conversation:
            err("target.conversationId", "a Teams conversation id")
            return None
        kind = "channel" if ";messageid=" in conversation else "personal" if conversation.startswith("a:") else "groupChat"
        return Thread(service_url, conversation, str(tenant), kind)


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
            {"operation": a.operation.value, "resourceId": a.resource.id,
             "outcome": next(({"status": o.status, "identity": o.identity, "detail": o.detail}
                              for o in reversed(plan.outcomes) if o.index == i), None)}
            for i, a in enumerate(plan.actions)
        ],
        "accessDenied": None if plan.access_denied is None else {
            "permission": plan.access_denied.permission, "scope": plan.access_denied.scope},
    }


def _json_error(message: str) -> str:
    return json.dumps({"error": message})


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=_json_error(reason), content_type="application/json",
                                headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'})
