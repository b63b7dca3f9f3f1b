"""`driver plan --mcp`: the same proposal through the bot's MCP server, with the official `mcp` client SDK, as an
MCP-speaking agent (Azure SRE Agent's custom MCP tools, Claude Code, Copilot Studio) would make it."""

from __future__ import annotations

import time
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .driver_plan import FINAL, Proposed, print_answer, print_outcome

MAX_WAIT = 120  # what one wait_for_plan may be asked for


async def propose_over_mcp(url: str, token: str, body: dict[str, Any], wait: float, proposed: Proposed) -> int:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        result = await client.call_tool("propose_plan", body)
        answer: dict[str, Any] = result.structured_content or {}
        print_answer("MCP propose_plan", 400 if result.is_error else 202, answer)
        if not result.is_error:
            await proposed(answer)
        if result.is_error or wait <= 0:
            return 1 if result.is_error else 0

        async def progress(done: float, total: float | None, message: str | None) -> None:
            print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

        deadline, plan = time.monotonic() + wait, answer
        while plan.get("state") not in FINAL and (left := deadline - time.monotonic()) > 0:
            waited = await client.call_tool(
                "wait_for_plan", {"id": answer["id"], "timeoutSeconds": min(MAX_WAIT, left)}, progress_callback=progress
            )
            if waited.is_error:
                print(f"wait_for_plan: {waited.structured_content}")
                return 1
            plan = waited.structured_content or {}
        return print_outcome(plan)
