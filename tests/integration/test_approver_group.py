"""Approver groups through Microsoft Graph: the permissions Graph documents, fresh checks, and failures explained."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from sandbox import Sandbox
from sandbox.driver import Conversation, TeamsDriver
from sandbox.world import GRAPH_RESOURCE

from ..conftest import LOG_LINES
from .harness import RunningBot, Teams, card_text, find_action


@pytest.fixture
def agent_without_user_read_all(sandbox: Sandbox) -> Iterator[None]:
    """The tenant as an admin who granted only GroupMember.Read.All leaves it (not what the file grants)."""
    roles = sandbox.world.agent.api_roles
    granted = roles[GRAPH_RESOURCE]
    roles[GRAPH_RESOURCE] = {"GroupMember.Read.All"}
    yield
    roles[GRAPH_RESOURCE] = granted


def _group_bot(make_bot: object, sandbox: Sandbox) -> RunningBot:
    """A bot whose only approvers are the members of "SRE On-Call" (alice)."""
    group = sandbox.world.groups[0].object_id
    return make_bot(DEFAULT_APPROVERS="", APPROVER_GROUP_ID=group, METRICS_PORT="0")  # type: ignore[operator,no-any-return]


async def _readyz(d: TeamsDriver, bot: RunningBot) -> dict[str, object]:
    """The readiness detail, on the metrics listener (the public /readyz says ok or failed only)."""
    async with d.session.get(str(bot.container.readiness_url)) as r:
        assert r.status == 200
        checks: dict[str, object] = (await r.json())["checks"]
        return checks


async def test_a_group_approver_is_told_why_when_graph_refuses_the_check(
    make_bot: object, sandbox: Sandbox, chat: Conversation, agent_without_user_read_all: None
) -> None:
    bot = _group_bot(make_bot, sandbox)
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        since, logged = len(sandbox.arm.writes), len(LOG_LINES)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(await teams.view("alice", chat, card), "approve")
        assert data is not None  # the view cannot tell, so the click (checked fresh) explains
        refused = await teams.click("alice", chat, card, "approve", data)
        assert "Microsoft Graph refused the bot's check of the approver group (403)" in refused.value
        assert "User.Read.All and GroupMember.Read.All" in refused.value and "Entra admin" in refused.value
        assert "not one of the approvers" not in refused.value
        assert "Awaiting approval" in card_text(await teams.card_now(card))  # nothing was changed
        assert "User.Read.All" in str((await _readyz(d, bot))["directory"])
    assert any("checkMemberGroups" in line and "User.Read.All" in line for line in LOG_LINES[logged:])
    events = [e for e in await bot.container.store.events() if e.event == "approval_refused"]
    assert events and events[-1].detail["code"] == "directory_unavailable"
    assert len(sandbox.arm.writes) == since


async def test_with_the_files_permissions_a_group_approver_gets_the_buttons_and_approves(
    make_bot: object, sandbox: Sandbox, chat: Conversation
) -> None:
    bot = _group_bot(make_bot, sandbox)
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        since = len(sandbox.arm.writes)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(await teams.view("alice", chat, card), "approve")
        assert data is not None
        assert find_action(await teams.view("bob", chat, card), "approve") is None  # not in the group
        await teams.click("alice", chat, card, "approve", data)
        await teams.wait_card(card, "Succeeded")
        assert (await _readyz(d, bot))["directory"] == "ok"
    assert len([w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/dev-01")]) == 1


async def test_group_membership_is_checked_afresh_for_every_decision(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    bot = _group_bot(make_bot, sandbox)
    groups = sandbox.world.groups
    on_call = groups[0]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        data = find_action(await teams.view("alice", chat, card), "approve")  # membership cached for views
        assert data is not None
        groups[0] = replace(on_call, members=frozenset())  # alice leaves the group
        try:
            refused = await teams.click("alice", chat, card, "approve", data)
        finally:
            groups[0] = on_call
        assert "not one of the approvers" in refused.value


async def test_the_public_readyz_tells_no_counts_and_no_error_texts(
    make_bot: object, sandbox: Sandbox, chat: Conversation, agent_without_user_read_all: None
) -> None:
    """Anyone who can reach /api/messages can reach /readyz: it says ready or not and which check failed; the outbox
    depth, dead letters, inbox counts, task counts and the last Graph error are for the operators' listener only."""
    bot = _group_bot(make_bot, sandbox)
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        card = await teams.ask("carol", "restart vm dev-01", chat)
        await teams.click("alice", chat, card, "approve", find_action(await teams.view("alice", chat, card), "approve"))
        async with d.session.get(f"{bot.url}/readyz") as r:
            public = await r.json()
        detail = await _readyz(d, bot)
    assert "User.Read.All" in str(detail["directory"]) and "outbox_depth" in detail and "background_tasks" in detail
    assert public == {"status": "ready", "checks": {"store": "ok", "outbox": "ok", "inbox": "ok", "directory": "failed"}}
