"""`POST /api/plans` and `GET /api/plans/{id}`: plans from agents, authenticated with Entra app tokens.

A caller presents an app-only access token for the bot's API (client credentials) holding the configured
app role (default `Plans.Submit`), from an app registered in API_CALLERS_FILE (its verified `azp`/`appid`).
The caller may only tighten the configured consent policy, within its own scopes and operations.
Bad bodies get 400 with every field error listed.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from ...config import ApiSettings, TeamsSettings
from ...domain.callers import ApiCaller, find_caller
from ...domain.consent import ConsentPolicy, PolicyLoosened, tightened
from ...domain.errors import Refusal, RefusalCode
from ...domain.follow_up import for_caller
from ...domain.plan import OPERATION_WORDS, Mode, Operation, Person, Plan, PlannedAction, ResourceRef, Source, Thread, ThreadKind
from ...domain.ratelimit import RateLimiter
from ...domain.scope import Scope, describe, in_scopes, out_of_scope_message
from ...domain.service_urls import UNTRUSTED_MESSAGE
from ...services.deps import Deps
from ...services.propose_plan import PlanRequest, propose_plan
from ..azure.tokens import TokenRejected
from ..conversation.approvals import Approvals
from .deps import TokenValidator

log = logging.getLogger(__name__)
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
MAX_ACTIONS = 20
# the domain's policy fields -> this API's body fields
POLICY_FIELDS = {"approvers": "approvers", "approvals_required": "approvalsRequired", "expiry": "expiresInMinutes"}


class PlansApi:
    def __init__(
        self,
        deps: Deps,
        validator: TokenValidator,
        api: ApiSettings,
        teams: TeamsSettings,
        policy: ConsentPolicy,
        allowed_scopes: tuple[Scope, ...],
        per_minute: int,
        approvals: Approvals | None = None,
    ) -> None:
        self.deps, self.validator, self.api, self.teams = deps, validator, api, teams
        self.approvals = approvals or Approvals(None, None, None)  # None: the card stays in the target conversation
        self.policy, self.allowed_scopes, self.per_minute = policy, allowed_scopes, per_minute
        # per caller app (its verified app id), on the bot's clock: an agent in a loop cannot flood the channel
        self._limiter = RateLimiter(per_minute, lambda: deps.clock.now().timestamp())

    async def _caller(self, request: web.Request) -> tuple[dict[str, Any], ApiCaller]:
        """The verified claims and the registered app behind them; 401/403 otherwise."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise _unauthorized("a Bearer token for the bot's API is required")
        s = self.api
        try:
            claims: dict[str, Any] = await self.validator.validate(header[7:], list(s.audiences))
        except TokenRejected as e:
            raise _unauthorized(e.reason) from None
        # App-only tokens: a delegated token has `scp`, and `idtyp` (when the optional claim is on) says "user".
        # https://learn.microsoft.com/entra/identity-platform/access-tokens (validate ... app-only)
        if "scp" in claims or claims.get("idtyp", "app") != "app":
            raise _forbidden("only application tokens (client credentials) may call this API; this token acts for a signed-in user")
        if s.api_role not in (claims.get("roles") or []):
            raise _forbidden(f"the caller lacks the app role {s.api_role}")
        app_id = str(claims.get("azp") or claims.get("appid") or "")  # v2: azp, v1: appid
        if s.api_callers is None:
            raise _forbidden("no agent app may submit plans: API_CALLERS_FILE is not configured on the bot")
        caller = find_caller(s.api_callers, app_id)
        if caller is None:
            raise _forbidden(
                f"app {app_id or '(no app id)'} is not registered in API_CALLERS_FILE; ask the bot's "
                f"administrator to add it with its scopes and operations"
            )
        return claims, caller

    async def submit(self, request: web.Request) -> web.Response:
        claims, caller = await self._caller(request)
        wait = self._limiter.take(caller.app_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            log.warning("rate limit: POST /api/plans from app %s refused", caller.app_id, extra={"event": "rate_limited"})
            return web.json_response(
                {
                    "error": f"{caller.name} is submitting plans faster than RATE_LIMIT_API_PER_MINUTE allows "
                    f"({self.per_minute} a minute); nothing was proposed. Retry after "
                    f"{seconds} seconds."
                },
                status=429,
                headers={"Retry-After": str(seconds)},
            )
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"errors": [{"field": "", "message": "the body is not valid JSON"}]}, status=400)
        errors: list[dict[str, str]] = []
        plan_request = self._parse(body, claims, caller, errors)
        if errors or plan_request is None:
            return web.json_response({"errors": errors}, status=400)
        # where none of the approvers is in the target conversation, the card goes to the approvals channel (the
        # target gets a link, each approver a 1:1 note): the same rule as for a chat command
        plan_request, nobody = await self.approvals.route(plan_request)
        try:
            plan = await propose_plan(self.deps, plan_request)
        except Refusal as r:
            field = "actions" if r.code is RefusalCode.OUT_OF_SCOPE else "mode"
            return web.json_response({"errors": [{"field": field, "message": r.message}]}, status=400)
        url = f"/api/plans/{plan.id}"
        accepted: dict[str, Any] = {"id": plan.id, "state": plan.state.value, "url": url}
        if nobody is not None:
            accepted["warning"] = (
                "none of the plan's approvers is a member of the target conversation and APPROVALS_CHANNEL is not set: "
                "the plan waits there until it expires unless an approver joins it"
            )
        return web.json_response(accepted, status=202, headers={"Location": url})

    async def get(self, request: web.Request) -> web.Response:
        """Only the app that submitted the plan reads it; anyone else gets the same 404 as for no plan at all."""
        claims, _ = await self._caller(request)
        plan = await self.deps.store.get(request.match_info["plan_id"])
        if plan is None or not _submitted_by(plan, claims):
            return web.json_response({"error": "no such plan"}, status=404)
        return web.json_response(plan_summary(plan))

    def _parse(self, body: Any, claims: dict[str, Any], caller: ApiCaller, errors: list[dict[str, str]]) -> PlanRequest | None:
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
        actions = self._actions(body.get("actions"), caller, err)
        mode = body.get("mode", "review")
        if mode != "review":
            err("mode", "only 'review' is accepted here: autonomous mode exists only inside an incident response plan")
        policy = self._policy(body, err)
        thread = self._target(body.get("target"), claims, err)
        follow_up = for_caller(self.deps.follow_up, body, err)  # earlier reminders and escalation only, never later
        # `requestedBy` is ignored: the card names the verified app (configured name and app id), never a body field
        if errors or policy is None or follow_up is None:
            return None
        assert isinstance(title, str) and isinstance(rationale, str)
        requester = Person(object_id=str(claims.get("oid")), name=caller.display, tenant_id=str(claims.get("tid")))
        return PlanRequest(
            title=title.strip(),
            rationale=rationale.strip() or "(no rationale given)",
            actions=tuple(actions),
            requested_by=requester,
            policy=policy,
            thread=thread,
            mode=Mode.REVIEW,
            source=Source.API,
            follow_up=follow_up,
        )

    def _actions(self, raw_actions: Any, caller: ApiCaller, err: Callable[[str, str], None]) -> list[PlannedAction]:
        """The body's actions, each an operation the caller may propose on a VM inside both its scopes and the bot's."""
        actions: list[PlannedAction] = []
        if not isinstance(raw_actions, list) or not 1 <= len(raw_actions) <= MAX_ACTIONS:
            err("actions", f"required: a list of 1 to {MAX_ACTIONS} actions")
            raw_actions = []
        for i, a in enumerate(raw_actions):
            if not isinstance(a, dict):
                err(f"actions[{i}]", "must be an object with operation and resourceId")
                continue
            try:
                op: Operation | None = Operation.parse(str(a.get("operation", "")))
            except ValueError:
                op = None
                err(f"actions[{i}].operation", f"one of {', '.join(OPERATION_WORDS)}")
            if op is not None and op not in caller.operations:
                err(
                    f"actions[{i}].operation",
                    f"{caller.name} may propose only {', '.join(sorted(o.value for o in caller.operations))} (API_CALLERS_FILE)",
                )
                op = None
            try:
                ref = ResourceRef.parse(str(a.get("resourceId", "")))
            except ValueError as e:
                err(f"actions[{i}].resourceId", str(e))
                continue
            allowed = self.allowed_scopes
            if not in_scopes(ref, allowed):
                err(f"actions[{i}].resourceId", out_of_scope_message(ref, allowed))
            elif not in_scopes(ref, caller.scopes):
                err(
                    f"actions[{i}].resourceId",
                    f"VM {ref.name} in {ref.resource_group} is outside the scopes "
                    f"{caller.name} may propose for ({describe(caller.scopes)}; API_CALLERS_FILE)",
                )
            elif op is not None:
                actions.append(PlannedAction(op, ref))
        return actions

    def _policy(self, body: dict[str, Any], err: Any) -> ConsentPolicy | None:
        """The configured policy, tightened as the body asks (never loosened: 400 naming the field)."""
        base = self.policy
        approvers, required, expiry = body.get("approvers"), body.get("approvalsRequired"), body.get("expiresInMinutes")
        ok = True
        if approvers is not None and (
            not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) and GUID.match(a) for a in approvers)
        ):
            err("approvers", "a non-empty list of Entra object ids (GUIDs), among the configured approvers")
            ok = False
        if required is not None and (not isinstance(required, int) or isinstance(required, bool) or required < 1):
            err("approvalsRequired", f"a whole number, at least the configured {base.approvals_required}")
            ok = False
        if expiry is not None and (not isinstance(expiry, (int, float)) or isinstance(expiry, bool) or expiry <= 0):
            err("expiresInMinutes", f"a number of minutes, at most the configured {base.expiry.total_seconds() / 60:g}")
            ok = False
        if not ok:
            return None
        try:  # a number JSON allows but timedelta cannot hold (1e300, NaN) is the caller's error, not a 500
            expiry_delta = timedelta(minutes=expiry) if expiry else None
        except (OverflowError, ValueError):
            err("expiresInMinutes", f"a number of minutes, at most the configured {base.expiry.total_seconds() / 60:g}")
            return None
        try:
            return tightened(base, approvers=frozenset(approvers) if approvers else None, approvals_required=required, expiry=expiry_delta)
        except PolicyLoosened as e:
            for field, message in e.problems:
                err(POLICY_FIELDS[field], message)
            return None

    def _target(self, target: Any, claims: dict[str, Any], err: Any) -> Thread | None:
        if not isinstance(target, dict):
            err("target", "required: {conversationId} or {channelId}, with optional serviceUrl and tenantId")
            return None
        # the bot's Bot Framework token goes with every call to this URL: only hosts the bot trusts, never one
        # the caller picks freely (https only; TEAMS_SERVICE_URL or under a TEAMS_SERVICE_URLS prefix)
        service_url = target.get("serviceUrl") or self.teams.teams_service_url
        if not self.teams.service_urls.allows(service_url):
            err("target.serviceUrl", UNTRUSTED_MESSAGE)
            return None
        tenant = target.get("tenantId") or claims.get("tid")
        if str(tenant) not in self.teams.allowed_tenants:
            err("target.tenantId", "must be a tenant the bot serves (ALLOWED_TENANTS); leave it out for the caller's own")
            return None
        if "channelId" in target:
            channel = target["channelId"]
            if not isinstance(channel, str) or not channel.startswith("19:"):
                err("target.channelId", "a Teams channel id (19:...@thread.tacv2)")
                return None
            return Thread(service_url, channel, str(tenant), ThreadKind.CHANNEL)
        conversation = target.get("conversationId")
        if not isinstance(conversation, str) or not conversation:
            err("target.conversationId", "a Teams conversation id")
            return None
        kind = (
            ThreadKind.CHANNEL
            if ";messageid=" in conversation
            else ThreadKind.PERSONAL
            if conversation.startswith("a:")
            else ThreadKind.GROUP_CHAT
        )
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
            {
                "operation": a.operation.value,
                "resourceId": a.resource.id,
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


def _submitted_by(plan: Plan, claims: dict[str, Any]) -> bool:
    """True if the plan came through this API from the service principal (and tenant) these claims identify."""
    who = plan.requested_by
    return plan.source is Source.API and who.object_id == str(claims.get("oid")) and who.tenant_id == str(claims.get("tid"))


def _forbidden(message: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=_json_error(message), content_type="application/json")


def _json_error(message: str) -> str:
    return json.dumps({"error": message})


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(
        text=_json_error(reason),
        content_type="application/json",
        headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{reason}"'},
    )
