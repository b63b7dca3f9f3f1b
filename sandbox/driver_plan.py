"""`driver plan`: be the sandbox's agent app (the SRE Agent registered in API_CALLERS_FILE) and propose a plan to the
running bot, through `POST /api/plans` or, with `--mcp`, through its MCP server; `--wait` follows the plan to its
outcome (a long-poll, or `wait_for_plan`).

The agent authenticates as an agent does in production: an Entra app-only token for the bot's API (client credentials,
`<API_AUDIENCE>/.default`) from the sandbox Entra, with the app's id and secret the sandbox wrote to
`.sandbox/agent-app.json` (readable by this user only) when it started.

Nothing here imports aiohttp at module level: the command line registers `driver plan` before `sandbox` exports its
CA, and aiohttp builds its default SSL context when it is first imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .api_token import api_token
from .world import World, demo_world

if TYPE_CHECKING:
    from .driver import TeamsDriver

Proposed = Callable[[dict[str, Any]], Awaitable[None]]  # what to do once the bot accepted the plan
FINAL = {"succeeded", "failed", "denied", "expired", "credentials_denied", "user_not_authorized", "interrupted"}
AGENT_FILE = "agent-app.json"
AGENT_ENV = "agent.env"


def write_agent_files(box: Any, directory: Path, port: int) -> None:
    """The sandbox's agent app, for `driver plan` (agent-app.json) and for an agent of your own (agent.env, to source
    in a shell): its client id and secret, the tenant, the MCP endpoint and the CA. Throwaway local secrets, readable
    by this user only."""
    agent = box.world.agent
    credentials = {"clientId": agent.client_id, "clientSecret": agent.secret, "tenantId": box.world.home_tenant_id}
    env = {
        "AGENT_CLIENT_ID": agent.client_id,
        "AGENT_CLIENT_SECRET": agent.secret,
        "MCP_URL": f"http://localhost:{port}/mcp",
        "SSL_CERT_FILE": str(box.tls.ca_path),
    }
    for name, text in ((AGENT_FILE, json.dumps(credentials) + "\n"), (AGENT_ENV, "".join(f"{k}={v}\n" for k, v in env.items()))):
        path = directory / name
        path.touch(mode=0o600)
        path.write_text(text)


def add_plan(dsub: Any) -> None:
    pl = dsub.add_parser("plan", help="propose a plan as the sandbox's agent app (POST /api/plans, or --mcp)")
    pl.add_argument(
        "--action", dest="actions", action="append", required=True, metavar='"OPERATION VM"', help='e.g. "restart dev-01" (repeatable)'
    )
    pl.add_argument("--title", help="the plan's title (default: from the actions)")
    pl.add_argument("--rationale", default="Proposed by the sandbox's agent app (driver plan)", help="why, as the approvers read it")
    pl.add_argument("--mcp", action="store_true", help="through the bot's MCP server (/mcp) rather than POST /api/plans")
    pl.add_argument("--wait", type=float, default=0.0, help="follow the plan for at most this many seconds and print its outcome")
    place = pl.add_mutually_exclusive_group()
    place.add_argument("--chat", default="sandbox-demo", help="the group chat the card is posted in (default sandbox-demo)")
    place.add_argument("--channel", action="store_true", help="a new thread in the incidents channel")
    place.add_argument("--approvals", action="store_true", help="a new thread in the approvals channel")


def body_of(args: argparse.Namespace, world: World, tenant_id: str) -> dict[str, Any] | str:
    """The POST /api/plans body the arguments describe, or what is wrong with them."""
    from .driver_follow import where

    actions, names = [], {v.name: v for v in world.vms}
    for text in args.actions:
        operation, _, vm = text.strip().partition(" ")
        if vm.strip() not in names:
            return f'--action {text!r}: name an operation and one of the VMs {", ".join(names)}, e.g. "restart dev-01"'
        actions.append({"operation": operation, "resourceId": names[vm.strip()].id})
    conversation = where(args, world, tenant_id).conversation
    target = {"channelId": conversation.id} if conversation.kind == "channel" else {"conversationId": conversation.id}
    title = args.title or "; ".join(a.strip().capitalize() for a in args.actions)
    return {"title": title[:200], "rationale": args.rationale, "actions": actions, "target": target}


def agent_token(endpoints: dict[str, Any], sandbox_dir: Path) -> str:
    """Client credentials for the bot's API, as the agent app (azure-identity, against the sandbox Entra)."""
    return api_token(json.loads((sandbox_dir / AGENT_FILE).read_text()), endpoints)


async def propose(args: argparse.Namespace, endpoints: dict[str, Any], sandbox_dir: Path, driver: TeamsDriver) -> int:
    body = body_of(args, demo_world(), endpoints["tenantId"])
    if isinstance(body, str):
        print(body, file=sys.stderr)
        return 2
    if not (sandbox_dir / AGENT_FILE).is_file():
        print(f"this sandbox wrote no {AGENT_FILE}: restart it (make run)", file=sys.stderr)
        return 2
    token = await asyncio.to_thread(agent_token, endpoints, sandbox_dir)
    base = endpoints["bot"].removesuffix("/api/messages")

    async def proposed(answer: dict[str, Any]) -> None:
        await show_card(driver, answer["id"], args)

    if args.mcp:
        from .driver_mcp import propose_over_mcp

        return await propose_over_mcp(f"{base}/mcp", token, body, args.wait, proposed)
    return await _propose_over_http(base, token, body, args.wait, proposed)


async def show_card(driver: TeamsDriver, plan_id: str, args: argparse.Namespace) -> None:
    """Where the plan's card was posted (the bot answers the agent before its card is sent: poll a little), and how
    an approver approves it."""
    from .driver_alert import _card_of_plan
    from .driver_follow import thread_label
    from .views import describe_activity

    card = await _card_of_plan(driver, plan_id, timeout=15.0)
    if card is None:
        print(f"its card is not in Teams yet: watch for it with driver watch --plan {plan_id}")
        return
    print(f"its card: {describe_activity(card.activity)} in {thread_label(card)}")
    place = (
        " --channel"
        if args.channel
        else " --approvals"
        if args.approvals
        else ""
        if args.chat == "sandbox-demo"
        else f" --chat {args.chat}"
    )
    print(f"approve it as an approver: sre-consent-bot driver approve --as alice{place}", flush=True)


async def _propose_over_http(base: str, token: str, body: dict[str, Any], wait: float, proposed: Proposed) -> int:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=180)) as session:
        async with session.post(f"{base}/api/plans", json=body, headers=headers) as r:
            status, answer = r.status, await r.json(content_type=None)
        print_answer("POST /api/plans", status, answer)
        if status == 202:
            await proposed(answer)
        if status != 202 or wait <= 0:
            return 0 if status == 202 else 1
        deadline, etag, plan = time.monotonic() + wait, "", answer
        while plan.get("state") not in FINAL and (left := deadline - time.monotonic()) > 0:
            poll = {**headers, "If-None-Match": etag, "Prefer": f"wait={max(1, min(120, int(left)))}"} if etag else headers
            async with session.get(f"{base}{answer['url']}", headers=poll) as r:  # a long-poll: answered at a change
                if r.status == 200:
                    etag, plan = r.headers.get("ETag", ""), await r.json()
                    print(f"{time.strftime('%H:%M:%S')} plan {plan['id']}: {describe_state(plan)}", flush=True)
                elif r.status != 304:
                    print(f"GET {answer['url']} answered HTTP {r.status}: {await r.text()}", file=sys.stderr)
                    return 1
        return print_outcome(plan)


def print_answer(what: str, status: int, answer: dict[str, Any]) -> None:
    if status == 202 or (status == 200 and "id" in answer):
        print(f"{what}: plan {answer['id']} proposed, {answer['state']} ({answer['url']})")
        if answer.get("warning"):
            print(f"warning: {answer['warning']}")
        return
    problems = answer.get("errors") or [{"field": "", "message": answer.get("error", answer)}]
    print(f"{what} refused (HTTP {status}):", file=sys.stderr)
    for e in problems:
        print(f"  {e['field'] or '(body)'}: {e['message']}", file=sys.stderr)


def describe_state(plan: dict[str, Any]) -> str:
    approved = f" (approved by {', '.join(plan['approvedBy'])})" if plan.get("approvedBy") else ""
    return f"{plan['state']}{approved}"


def print_outcome(plan: dict[str, Any]) -> int:
    """The plan's outcome, action by action; 0 once it is final, 1 when the wait ended first."""
    if plan.get("state") not in FINAL:
        print(f"plan {plan.get('id')} is still {plan.get('state')}: not final yet")
        return 1
    print(f"outcome: plan {plan['id']} {describe_state(plan)}")
    for action in plan.get("actions") or []:
        outcome = action.get("outcome") or {}
        name = action["resourceId"].rsplit("/", 1)[1]
        how = ": ".join(str(outcome[k]) for k in ("identity", "detail") if outcome.get(k))
        print(f"  {action['operation']} {name}: {outcome.get('status', 'not run')}" + (f" ({how})" if how else ""))
    return 0
