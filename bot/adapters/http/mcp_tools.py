"""The MCP server's tools: the agents' API (`/api/operations`, `/api/plans`) as `list_operations`, `propose_plan`,
`get_plan` and `wait_for_plan`, on the official `mcp` SDK's low-level server.

Each tool answers what the HTTP API answers: its result's `structuredContent` is the API's JSON body, and the same JSON
is the result's text; a refusal (400, 404, 429) is a result with `isError`, carrying the API's message. Only the app
that proposed a plan reads or waits on it: for any other, a plan is as absent as one that does not exist. The caller
was authenticated before the request reached the SDK (mcp_http.py), which hands it to the tools in the ASGI scope.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from ...domain.callers import ApiCaller
from ...domain.plan_view import FINAL_STATES, plan_summary
from .long_poll import MAX_WAIT, Changed
from .operations import operations_body
from .plan_actions import MAX_ACTIONS
from .plans_api import NO_SUCH_PLAN, Answer, PlansApi

CALLER = "sre_consent_caller"  # the key of (claims, caller) in the ASGI scope's state
INSTRUCTIONS = (
    "Put Azure writes in front of people in Microsoft Teams before they happen. list_operations says what you may "
    "propose; propose_plan posts the plan's card where its approvers are and returns its id; wait_for_plan returns "
    "when the plan is final (succeeded, failed, denied, expired, credentials_denied, user_not_authorized, "
    "interrupted) or at its timeout, with a progress notification at each change of state; call it again to wait "
    "longer. Nothing runs without an approver's consent."
)
_ID = {"type": "string", "description": "the plan's id, as propose_plan returned it"}
_TARGET = {
    "type": "object",
    "description": "where the card is posted: {channelId} (a new thread in that channel) or {conversationId} (a chat or "
    "an existing thread), with optional serviceUrl and tenantId",
    "properties": {
        "channelId": {"type": "string", "description": "a Teams channel id, 19:...@thread.tacv2"},
        "conversationId": {"type": "string", "description": "a Teams conversation id"},
        "serviceUrl": {"type": "string", "description": "the Bot Connector URL (default: the bot's TEAMS_SERVICE_URL)"},
        "tenantId": {"type": "string", "description": "the tenant (default: the caller's)"},
    },
}
PROPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200, "description": "what the plan does, in a few words"},
        "rationale": {"type": "string", "maxLength": 2000, "description": "why: what the approvers read before they decide"},
        "actions": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_ACTIONS,
            "description": "the writes, each an operation list_operations offers on a resource",
            "items": {
                "type": "object",
                "properties": {
                    "operation": {"type": "string"},
                    "resourceId": {"type": "string", "description": "an Azure resource id"},
                    "parameters": {"type": "object", "description": "the operation's parameters, as list_operations describes them"},
                },
                "required": ["operation", "resourceId"],
            },
        },
        "target": _TARGET,
        "approvers": {"type": "array", "items": {"type": "string"}, "description": "Entra object ids, among the configured approvers"},
        "approvalsRequired": {"type": "integer", "minimum": 1, "description": "at least the configured quorum"},
        "expiresInMinutes": {"type": "number", "exclusiveMinimum": 0, "description": "at most the configured expiry"},
        "callback": {
            "type": "object",
            "description": "an https URL under the caller's callbackUrls: each change of the plan's state is POSTed there, signed",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
        },
    },
    "required": ["title", "actions", "target"],
}
GET_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"id": _ID}, "required": ["id"]}
WAIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _ID,
        "timeoutSeconds": {"type": "number", "minimum": 0, "maximum": MAX_WAIT, "description": f"at most {MAX_WAIT} (the default)"},
    },
    "required": ["id"],
}


def _tool(name: str, description: str, schema: dict[str, Any], *, read_only: bool = True) -> types.Tool:
    hints = types.ToolAnnotations(read_only_hint=read_only, destructive_hint=False, open_world_hint=False)
    return types.Tool(name=name, description=description, input_schema=schema, annotations=hints)


TOOLS = [
    _tool("list_operations", "The operations this agent may propose, each with the JSON schema of its parameters.", {"type": "object"}),
    _tool(
        "propose_plan",
        "Propose a plan of Azure writes; approvers decide in Teams. Returns id, state and url (and warning).",
        PROPOSE_SCHEMA,
        read_only=False,
    ),
    _tool(
        "get_plan",
        "A plan this agent proposed: its state, approvals and each action's outcome.",
        {"type": "object", "properties": {"id": _ID}, "required": ["id"]},
    ),
    _tool("wait_for_plan", "Wait until the plan is final or timeoutSeconds pass; returns it as get_plan does.", WAIT_SCHEMA),
]
Identity = tuple[dict[str, Any], ApiCaller]
Tool = Callable[[ServerRequestContext[Any, Any], Identity, dict[str, Any]], Awaitable[Answer]]


class McpTools:
    """The tools over the plans API and the plan watch."""

    def __init__(self, api: PlansApi, changed: Changed) -> None:
        self.api, self.changed = api, changed
        self._tools: dict[str, Tool] = {
            "list_operations": self.list_operations,
            "propose_plan": self.propose_plan,
            "get_plan": self.get_plan,
            "wait_for_plan": self.wait_for_plan,
        }

    def server(self, version: str) -> Server[Any]:
        return Server("sre-consent-bot", version=version, instructions=INSTRUCTIONS, on_list_tools=self._list, on_call_tool=self._call)

    async def _list(self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def _call(self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = self._tools.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"no tool named {params.name!r}: one of {', '.join(self._tools)}")
        identity = (ctx.request.scope.get("state") or {}).get(CALLER) if ctx.request is not None else None
        if identity is None:  # every request through /mcp was authenticated first: this is a wiring fault
            raise MCPError(types.INTERNAL_ERROR, "the caller was not authenticated")
        answer = await tool(ctx, identity, dict(params.arguments or {}))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(answer.body))],
            structured_content=answer.body,
            is_error=answer.status >= 400,
        )

    async def list_operations(self, ctx: ServerRequestContext[Any, Any], who: Identity, args: dict[str, Any]) -> Answer:
        return Answer(200, operations_body(who[1]))

    async def propose_plan(self, ctx: ServerRequestContext[Any, Any], who: Identity, args: dict[str, Any]) -> Answer:
        return await self.api.propose(who[0], who[1], args)

    async def get_plan(self, ctx: ServerRequestContext[Any, Any], who: Identity, args: dict[str, Any]) -> Answer:
        plan_id = args.get("id")
        plan = await self.api.plan_of(who[0], plan_id) if isinstance(plan_id, str) else None
        return Answer(200, plan_summary(plan)) if plan is not None else Answer(404, NO_SUCH_PLAN)

    async def wait_for_plan(self, ctx: ServerRequestContext[Any, Any], who: Identity, args: dict[str, Any]) -> Answer:
        """The plan once it is final or at the timeout; a progress notification at each change of its state."""
        timeout = args.get("timeoutSeconds", MAX_WAIT)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout >= 0:
            return Answer(400, {"errors": [{"field": "timeoutSeconds", "message": f"a number of seconds from 0 to {MAX_WAIT}"}]})
        plan_id = args.get("id")
        told = len(await self._states(plan_id)) if isinstance(plan_id, str) else 0  # before the plan: none is missed
        plan = await self.api.plan_of(who[0], plan_id) if isinstance(plan_id, str) else None
        if plan is None:
            return Answer(404, NO_SUCH_PLAN)
        loop = asyncio.get_running_loop()
        deadline, sent = loop.time() + min(float(timeout), MAX_WAIT), 0
        while plan.state not in FINAL_STATES and (remaining := deadline - loop.time()) > 0:
            newer = await self.changed(plan.id, plan.version, remaining)
            if newer is None:
                break
            if newer.state is not plan.state:
                # every state on the way, from the audit trail (written with each transition): two changes between
                # two reads of the plan are both told
                states = await self._states(plan.id)
                for state in states[told:]:
                    sent += 1  # progress only ever increases (MCP's progress notifications)
                    await ctx.session.report_progress(sent, None, f"plan {plan.id} is {state}")
                told = max(told, len(states))
            plan = newer
        return Answer(200, plan_summary(plan))

    async def _states(self, plan_id: str) -> list[str]:
        """The states the plan moved into, in order."""
        events = await self.api.deps.audit.events(plan_id)
        return [e.to_state for e in events if e.to_state and e.to_state != e.from_state]
