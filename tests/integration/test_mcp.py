"""/mcp: the official `mcp` client SDK against the running bot, as an agent would use it (no code of the bot)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from .harness import RunningBot, Teams, card_text
from .test_plans_api import _body, _token, _two_agents_bot

MODES = ["auto", "legacy"]  # 2026-07-28 (discovered) and the initialize handshake (2025 clients)


@contextlib.asynccontextmanager
async def mcp_client(bot: RunningBot, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    """The SDK's client over Streamable HTTP, with the agent's token on every request."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    async with http, Client(streamable_http_client(f"{bot.url}/mcp", http_client=http), mode=mode) as client:
        yield client


async def _http(driver: TeamsDriver, bot: RunningBot, path: str, token: str) -> Any:
    async with driver.session.get(f"{bot.url}{path}", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
        return await r.json()


@pytest.mark.parametrize("mode", MODES)
async def test_an_mcp_agent_proposes_a_restart_waits_and_hears_succeeded_after_alice_approves(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox, teams: Teams, mode: str
) -> None:
    token = _token(sandbox)
    async with mcp_client(bot, token, mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"list_operations", "propose_plan", "get_plan", "wait_for_plan"}
        assert tools["propose_plan"].input_schema["required"] == ["title", "actions", "target"]
        operations = await client.call_tool("list_operations", {})
        assert not operations.is_error and operations.structured_content == await _http(driver, bot, "/api/operations", token)
        (restart,) = [
            o
            for o in operations.structured_content["operations"]
            if (o["resourceType"], o["operation"]) == ("Microsoft.Compute/virtualMachines", "restart")
        ]
        assert restart["parameters"] == {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
        assert restart["rbacActions"] == ["Microsoft.Compute/virtualMachines/restart/action"]

        proposed = await client.call_tool("propose_plan", _body(sandbox))
        assert not proposed.is_error, proposed.content
        plan = proposed.structured_content
        assert plan["state"] == "awaiting_consent" and plan["url"] == f"/api/plans/{plan['id']}"
        assert json.loads(proposed.content[0].text) == plan  # the same JSON as text

        progress: list[str] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(message or "")

        waiting = asyncio.create_task(
            client.call_tool("wait_for_plan", {"id": plan["id"], "timeoutSeconds": 60}, progress_callback=on_progress)
        )
        card = await driver.wait_for(lambda m: m.card is not None and plan["id"] in card_text(m.card))
        await teams.click("alice", TeamsDriver.channel(sandbox.world.channels[0], sandbox.world.home_tenant_id), card, "approve")
        outcome = await waiting
    assert not outcome.is_error and outcome.structured_content["state"] == "succeeded"
    assert outcome.structured_content == await _http(driver, bot, plan["url"], token)  # get_plan's JSON is GET's
    assert [p.split(" is ")[-1] for p in progress] == ["approved", "executing", "succeeded"]


async def test_get_plan_and_wait_for_plan_return_the_plan_as_get_does_and_wait_returns_at_its_timeout(
    driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox
) -> None:
    token = _token(sandbox)
    async with mcp_client(bot, token) as client:
        plan = (await client.call_tool("propose_plan", _body(sandbox))).structured_content
        got = await client.call_tool("get_plan", {"id": plan["id"]})
        assert not got.is_error and got.structured_content == await _http(driver, bot, plan["url"], token)
        waited = await client.call_tool("wait_for_plan", {"id": plan["id"], "timeoutSeconds": 0.2})
    assert not waited.is_error and waited.structured_content["state"] == "awaiting_consent"


async def test_refusals_are_error_results_with_the_http_apis_message(
    sandbox: Sandbox, tmp_path: Path, make_bot: Callable[..., RunningBot]
) -> None:
    bot, other = _two_agents_bot(sandbox, tmp_path, make_bot)
    bad = _body(sandbox, title="", actions=[{"operation": "explode", "resourceId": "/nope"}])
    async with sandbox.driver(bot.messages_url) as driver:
        async with driver.session.post(f"{bot.url}/api/plans", json=bad, headers={"Authorization": f"Bearer {_token(sandbox)}"}) as r:
            http_refusal = await r.json()
        async with mcp_client(bot, _token(sandbox)) as client:
            refused = await client.call_tool("propose_plan", bad)
            assert refused.is_error and refused.structured_content == http_refusal and json.loads(refused.content[0].text) == http_refusal
            mine = (await client.call_tool("propose_plan", _body(sandbox))).structured_content
        async with mcp_client(bot, _token(sandbox, other.name)) as client:
            for tool, args in (("get_plan", {"id": mine["id"]}), ("wait_for_plan", {"id": mine["id"], "timeoutSeconds": 1})):
                answer = await client.call_tool(tool, args)  # another app's plan: as if there were none
                assert answer.is_error and answer.structured_content == {"error": "no such plan"}, tool
            too_long = await client.call_tool("wait_for_plan", {"id": mine["id"], "timeoutSeconds": -1})
            assert too_long.is_error and too_long.structured_content["errors"][0]["field"] == "timeoutSeconds"


async def test_without_a_token_mcp_answers_401_naming_its_metadata_which_names_the_entra_issuer(
    sandbox: Sandbox, make_bot: Callable[..., RunningBot]
) -> None:
    bot = make_bot(BOT_DOMAIN="consent.contoso.example")
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    async with sandbox.driver(bot.messages_url) as driver:
        for headers in ({}, {"Authorization": "Bearer not.a.jwt"}):
            async with driver.session.post(f"{bot.url}/mcp", json=initialize, headers=headers) as r:
                assert r.status == 401
                challenge = r.headers["WWW-Authenticate"]
        metadata_url = "https://consent.contoso.example/.well-known/oauth-protected-resource/mcp"
        assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge
        documents = []
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
            async with driver.session.get(f"{bot.url}{path}") as r:  # what the front door at BOT_DOMAIN serves
                assert r.status == 200
                documents.append(await r.json())
        async with driver.session.get(f"{documents[0]['authorization_servers'][0]}/.well-known/openid-configuration") as r:
            issuer = (await r.json())["issuer"]
    assert documents[0] == documents[1]
    assert documents[0]["resource"] == "https://consent.contoso.example/mcp"
    assert documents[0]["authorization_servers"] == [f"{sandbox.entra.base_url}/{sandbox.world.home_tenant_id}/v2.0"] == [issuer]
    assert documents[0]["scopes_supported"] == [f"{sandbox.world.bot.app_id_uri}/.default"]


async def test_a_token_without_the_role_is_403_insufficient_scope(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    async with driver.session.post(f"{bot.url}/mcp", json={}, headers={"Authorization": f"Bearer {_token(sandbox, 'unlisted-app')}"}) as r:
        assert r.status == 403 and "Plans.Submit" in (await r.json())["error"]
        assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


async def test_a_browser_page_of_another_origin_gets_403(driver: TeamsDriver, bot: RunningBot, sandbox: Sandbox) -> None:
    headers = {"Authorization": f"Bearer {_token(sandbox)}", "Origin": "https://evil.example"}
    async with driver.session.post(f"{bot.url}/mcp", json={}, headers=headers) as r:
        assert r.status == 403 and "Origin" in (await r.json())["error"]
