"""`POST /api/plans` and `GET /api/plans/{id}`: plans from agents, authenticated with Entra app tokens.

A caller presents an app-only access token for the bot's API (client credentials) holding the configured
app role (default `Plans.Submit`), from an app registered in API_CALLERS_FILE (its verified `azp`/`appid`).
The caller may only tighten the configured consent policy, within its own scopes and operations.
Bad bodies get 400 with every field error listed. The MCP tools (mcp_tools.py) propose and read through the same
methods, so both answer alike. `GET /api/plans/{id}` is also a long-poll (long_poll.py).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from aiohttp import web

from ...config import ApiSettings, TeamsSettings
from ...domain.callbacks import URL_RULE, Callback
from ...domain.callers import ApiCaller
from ...domain.consent import ConsentPolicy, PolicyLoosened, tightened
from ...domain.errors import Refusal, RefusalCode
from ...domain.follow_up import for_caller
from ...domain.plan import Mode, Person, Plan, Source, Thread, ThreadKind
from ...domain.ratelimit import RateLimiter
from ...domain.scope import Scope
from ...domain.service_urls import UNTRUSTED_MESSAGE
from ...services.deps import Deps
from ...services.propose_plan import PlanRequest, propose_plan
from ..conversation.approvals import Approvals
from . import long_poll
from .api_auth import ApiAuth, submitted_by
from .deps import TokenValidator
from .plan_actions import Intent, parse_actions, plan_actions

log = logging.getLogger(__name__)
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
# the domain's policy fields -> this API's body fields
POLICY_FIELDS = {"approvers": "approvers", "approvals_required": "approvalsRequired", "expiry": "expiresInMinutes"}
NO_SUCH_PLAN = {"error": "no such plan"}


@dataclass(frozen=True)
class Answer:
    """What the API answers (and the MCP tools return: `body` is their structuredContent, `status` >= 400 isError)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


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
        changed: long_poll.Changed | None = None,
    ) -> None:
        self.deps, self.auth, self.api, self.teams = deps, ApiAuth(validator, api), api, teams
        self.approvals = approvals or Approvals(None, None, None)  # None: the card stays in the target conversation
        self.policy, self.allowed_scopes, self.per_minute = policy, allowed_scopes, per_minute
        # per caller app (its verified app id), on the bot's clock: an agent in a loop cannot flood the channel
        self._limiter = RateLimiter(per_minute, lambda: deps.clock.now().timestamp())
        self._changed = changed  # waits for a plan to change (plan_watch.py); None: no long-polls

    async def caller(self, request: web.Request) -> tuple[dict[str, Any], ApiCaller]:
        """The verified claims and the registered app behind them; 401/403 otherwise (api_auth.py)."""
        return await self.auth.caller(request)

    async def submit(self, request: web.Request) -> web.Response:
        claims, caller = await self.caller(request)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"errors": [{"field": "", "message": "the body is not valid JSON"}]}, status=400)
        answer = await self.propose(claims, caller, body)
        return web.json_response(answer.body, status=answer.status, headers=answer.headers)

    async def propose(self, claims: dict[str, Any], caller: ApiCaller, body: Any) -> Answer:
        """A plan from the verified `caller`, as `body` describes it: 202, or the 400/429 saying why not."""
        wait = self._limiter.take(caller.app_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            log.warning("rate limit: a plan from app %s refused", caller.app_id, extra={"event": "rate_limited"})
            refusal = (
                f"{caller.name} is submitting plans faster than RATE_LIMIT_API_PER_MINUTE allows "
                f"({self.per_minute} a minute); nothing was proposed. Retry after {seconds} seconds."
            )
            return Answer(429, {"error": refusal}, {"Retry-After": str(seconds)})
        errors: list[dict[str, str]] = []
        denied: list[dict[str, str]] = []  # operations the caller's entry does not allow: 403, once the body is well formed
        plan_request, intents = self._parse(body, claims, caller, errors, denied)
        if errors or plan_request is None:
            return Answer(400, {"errors": errors + denied})
        if denied:
            return Answer(403, {"errors": denied})
        channel = self.approvals.channel.channel_id if self.approvals.channel else ""  # where an app without targets posts
        if plan_request.thread and (outside := caller.target_refusal(plan_request.thread.conversation_id, channel)):
            return Answer(403, {"errors": [{"field": "target", "message": outside}]})
        actions = await plan_actions(self.deps, intents, lambda field, message: errors.append({"field": field, "message": message}))
        if errors:  # planned on the state read now: what cannot be planned names its field
            return Answer(400, {"errors": errors})
        plan_request = replace(plan_request, actions=tuple(actions))
        # where none of the approvers is in the target conversation, the card goes to the approvals channel (the
        # target gets a link, each approver a 1:1 note): the same rule as for a chat command
        plan_request, nobody = await self.approvals.route(plan_request)
        try:
            plan = await propose_plan(self.deps, plan_request)
        except Refusal as r:
            field = "actions" if r.code is RefusalCode.OUT_OF_SCOPE else "mode"
            return Answer(400, {"errors": [{"field": field, "message": r.message}]})
        url = f"/api/plans/{plan.id}"
        accepted: dict[str, Any] = {"id": plan.id, "state": plan.state.value, "url": url}
        if nobody is not None:
            accepted["warning"] = (
                "none of the plan's approvers is a member of the target conversation and APPROVALS_CHANNEL is not set: "
                "the plan waits there until it expires unless an approver joins it"
            )
        return Answer(202, accepted, {"Location": url})

    async def get(self, request: web.Request) -> web.Response:
        """Only the app that submitted the plan reads it; anyone else gets the same 404 as for no plan at all. A
        long-poll when asked (If-None-Match with Prefer: wait=N)."""
        claims, _ = await self.caller(request)
        plan = await self.plan_of(claims, request.match_info["plan_id"])
        if plan is None:
            return web.json_response(NO_SUCH_PLAN, status=404)
        if self._changed is None:
            return long_poll.representation(plan)
        return await long_poll.answer(request, plan, self._changed)

    async def plan_of(self, claims: dict[str, Any], plan_id: str) -> Plan | None:
        """The plan, if the app these claims identify submitted it; None otherwise (as if there were none)."""
        plan = await self.deps.store.get(plan_id)
        return plan if plan is not None and submitted_by(plan, claims) else None

    def _parse(
        self, body: Any, claims: dict[str, Any], caller: ApiCaller, errors: list[dict[str, str]], denied: list[dict[str, str]]
    ) -> tuple[PlanRequest | None, list[Intent]]:
        def err(field: str, message: str) -> None:
            errors.append({"field": field, "message": message})

        if not isinstance(body, dict):
            err("", "the body must be a JSON object")
            return None, []
        title, rationale = body.get("title"), body.get("rationale", "")
        if not isinstance(title, str) or not title.strip() or len(title) > 200:
            err("title", "required: a string of 1 to 200 characters")
        if not isinstance(rationale, str) or len(rationale) > 2000:
            err("rationale", "a string of at most 2000 characters")
        intents = parse_actions(
            body.get("actions"),
            caller,
            self.allowed_scopes,
            err,
            lambda field, message: denied.append({"field": field, "message": message}),
        )
        mode = body.get("mode", "review")
        if mode != "review":
            err("mode", "only 'review' is accepted here: autonomous mode exists only inside an incident response plan")
        policy = self._policy(body, err)
        thread = self._target(body.get("target"), claims, err)
        follow_up = for_caller(self.deps.follow_up, body, err)  # earlier reminders and escalation only, never later
        callback = _callback(body.get("callback"), caller, err)
        # `requestedBy` is ignored: the card names the verified app (configured name and app id), never a body field
        if errors or policy is None or follow_up is None:
            return None, intents
        assert isinstance(title, str) and isinstance(rationale, str)
        requester = Person(object_id=str(claims.get("oid")), name=caller.display, tenant_id=str(claims.get("tid")))
        request = PlanRequest(
            title=title.strip(),
            rationale=rationale.strip() or "(no rationale given)",
            actions=(),  # planned (on the state read now) once the whole body is known to be acceptable
            requested_by=requester,
            policy=policy,
            thread=thread,
            mode=Mode.REVIEW,
            source=Source.API,
            origin=caller.app_id,  # its API_CALLERS_FILE entry keeps governing the plan (excludedApprovers)
            follow_up=follow_up,
            callback=callback,
        )
        return request, intents

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


def _callback(raw: Any, caller: ApiCaller, err: Callable[[str, str], None]) -> Callback | None:
    """`{"url"}`: where the plan's changes are POSTed, signed; only under the caller's registered callbackUrls."""
    if raw is None:
        return None
    url = raw.get("url") if isinstance(raw, dict) else None
    if not caller.callback_urls:
        err("callback.url", f"{caller.name} has no callbackUrls in API_CALLERS_FILE: ask the bot's administrator to add them")
    elif not caller.callback_urls.allows(url):
        err("callback.url", URL_RULE)
    else:
        assert isinstance(url, str)
        return Callback(url.strip(), caller.app_id)
    return None
