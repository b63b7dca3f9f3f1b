"""An agent that asks people in Teams before it acts: propose a plan through the bot's MCP server, then wait for it.

Written with the official `mcp` client SDK alone (and httpx2, the HTTP client the SDK itself uses); no code of the bot.
It finds where to get its token the way the MCP authorization specification describes: the server's 401 names its
protected-resource metadata (RFC 9728), which names the authorization server (the tenant's Entra v2 issuer) and the
scope; the issuer's OpenID configuration gives the token endpoint; client credentials give an app-only token.

Against the sandbox (`make run`, then in another terminal, from the clone's root):

    set -a; . .sandbox/agent.env; set +a     # AGENT_CLIENT_ID, AGENT_CLIENT_SECRET, MCP_URL, SSL_CERT_FILE
    .venv/bin/python examples/mcp_agent.py dev-01

then approve the card as alice (`.venv/bin/sre-consent-bot driver approve --as alice`). Elsewhere, set the same
variables for your agent's app registration and the bot's /mcp URL, and name a VM and a target the bot serves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import httpx2
from mcp import Client
from mcp.client.auth.utils import extract_resource_metadata_from_www_auth
from mcp.client.streamable_http import streamable_http_client

FINAL = {"succeeded", "failed", "denied", "expired", "credentials_denied", "user_not_authorized", "interrupted"}


async def get_token(http: httpx2.AsyncClient, mcp_url: str, client_id: str, client_secret: str) -> str:
    """Discover the authorization server from the MCP server's 401, then get an app-only token there."""
    refused = await http.post(mcp_url, json={"jsonrpc": "2.0", "id": 0, "method": "ping"})
    metadata_url = extract_resource_metadata_from_www_auth(refused)
    if refused.status_code != 401 or metadata_url is None:
        raise SystemExit(f"{mcp_url} did not ask for a token (HTTP {refused.status_code})")
    resource = (await http.get(metadata_url)).json()
    issuer, scope = resource["authorization_servers"][0], resource["scopes_supported"][0]
    token_endpoint = (await http.get(f"{issuer}/.well-known/openid-configuration")).json()["token_endpoint"]
    # Entra's v2 endpoint takes the resource in `scope` and refuses a `resource` parameter (AADSTS901002)
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret, "scope": scope}
    answer = await http.post(token_endpoint, data=form)
    if answer.status_code != 200:
        raise SystemExit(f"{token_endpoint} refused: {answer.json().get('error_description', answer.text)}")
    return str(answer.json()["access_token"])


async def main(vm: str, channel: str | None, chat: str, wait: float) -> int:
    url, client_id, secret = os.environ["MCP_URL"], os.environ["AGENT_CLIENT_ID"], os.environ["AGENT_CLIENT_SECRET"]
    async with httpx2.AsyncClient(timeout=30) as http:
        token = await get_token(http, url, client_id, secret)
    agent_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    async with agent_http, Client(streamable_http_client(url, http_client=agent_http)) as client:
        print("tools:", ", ".join(t.name for t in (await client.list_tools()).tools))
        operations = (await client.call_tool("list_operations", {})).structured_content or {}
        restart = next(o for o in operations["operations"] if o["operation"] == "restart")
        answer = await client.call_tool("propose_plan", plan(restart["resourceType"], vm, channel, chat))
        proposed: dict[str, Any] = answer.structured_content or {}
        if answer.is_error:
            print("refused:", proposed, file=sys.stderr)
            return 1
        print(f"proposed plan {proposed['id']}: {proposed['state']}; waiting for the approvers in Teams")

        async def progress(done: float, total: float | None, message: str | None) -> None:
            print("  ", message)

        outcome: dict[str, Any] = proposed
        while outcome["state"] not in FINAL and wait > 0:
            result = await client.call_tool(
                "wait_for_plan", {"id": proposed["id"], "timeoutSeconds": min(wait, 120)}, progress_callback=progress
            )
            outcome, wait = result.structured_content or {}, wait - 120
        print(f"plan {proposed['id']}: {outcome['state']}")
        for action in outcome["actions"]:
            done = action["outcome"] or {"status": "not run", "detail": ""}
            print(f"   {action['operation']} {action['resourceId'].rsplit('/', 1)[1]}: {done['status']} {done['detail']}")
        return 0 if outcome["state"] == "succeeded" else 1


def plan(resource_type: str, vm: str, channel: str | None, chat: str) -> dict[str, Any]:
    """Restart `vm` (the sandbox's subscription and resource group unless given a full resource id)."""
    resource_id = (
        vm
        if vm.startswith("/subscriptions/")
        else (f"/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/dev-rg/providers/{resource_type}/{vm}")
    )
    target = {"channelId": channel} if channel else {"conversationId": chat}
    return {
        "title": f"Restart {resource_id.rsplit('/', 1)[1]}",
        "rationale": "Memory leak: RSS above 95% for 20 minutes (an example agent)",
        "actions": [{"operation": "restart", "resourceId": resource_id}],
        "target": target,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("vm", help="the VM to restart: a name in the sandbox's dev-rg, or a full resource id")
    parser.add_argument("--channel", help="post the card in a new thread of this channel (19:...@thread.tacv2)")
    parser.add_argument("--chat", default="19:sandbox-sandbox-demo@thread.v2", help="else in this chat (the sandbox's demo chat)")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for the outcome")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.vm, args.channel, args.chat, args.wait)))
