"""Fuzzing card clicks: `adaptiveCard/action` invokes with arbitrary verbs, data, plan ids, hashes, reasons,
`authentication` and `state`, and mutated SSO tokens on "Use my credentials", through the running bot.

Two plans exist for each test: one waiting for consent (carol asked, for dev-01) and one waiting for credentials
(carol asked for web-01, alice approved, the agent was refused). No example carries a valid, authorised decision:
an approver's click with the plan's real hash on a verb that would decide gets its hash altered. So the store must
end every example as it started (audit rows may be added) and ARM must see no write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, TeamsDriver
from sandbox.world import User

from ..integration.harness import RunningBot, Teams, find_action
from .conftest import FUZZ, count
from .guard import SETTLE_SECONDS, assert_invoke_ok, assert_preserved, settle, snapshot, starting_snapshot
from .strategies import JSON, TEXT
from .tokens import mutated_token

VERBS = ["approve", "deny", "refresh", "grant", "cancel"]


@dataclass(frozen=True)
class World:
    chat: Conversation  # where the plan waiting for consent was asked for
    chat2: Conversation  # where the plan waiting for credentials was
    consent: dict[str, str]  # the plan waiting for consent: planId, planHash
    credentials: dict[str, str]  # the plan waiting for credentials
    consent_card: str  # the id of its card (replyToId)
    credentials_card: str


async def _ask(teams: Teams, who: str, text: str, conversation: Conversation) -> BotMessage:
    """Teams.ask, waiting for the card as long as `settle` waits: a deadline, generous because the fuzz run shares
    loaded CPUs (10 s ran out with nothing posted yet under a load average of 18)."""
    sent = await teams.driver.say(teams.user(who), text, conversation)
    return await teams.driver.wait_for(lambda m: m.card is not None, conversation_id=sent["conversation"]["id"], timeout=SETTLE_SECONDS)


@pytest.fixture
async def plans(sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver) -> World:
    teams = Teams(driver, sandbox)
    chat, chat2 = (TeamsDriver.group_chat(sandbox.world.home_tenant_id, f"fuzz-invokes-{uuid.uuid4().hex[:8]}") for _ in "12")
    waiting = await _ask(teams, "carol", "restart vm dev-01", chat)
    refused = await _ask(teams, "carol", "restart vm web-01", chat2)
    await teams.click("alice", chat2, refused, "approve")
    await teams.wait_card(refused, "credentials needed", timeout=SETTLE_SECONDS)
    await settle(bot)
    consent = find_action(await teams.view("alice", chat, waiting), "approve")
    credentials = find_action(await teams.view("alice", chat2, refused), "grant")
    assert consent and credentials
    return World(chat, chat2, consent, credentials, waiting.id, refused.id)


def _stranger(sandbox: Sandbox) -> User:
    """Someone of the home tenant the bot has never heard of."""
    alice = sandbox.world.user("alice")
    return User(name="fuzz-stranger", display_name="Stranger", tenant_id=alice.tenant_id, domain="example.invalid")


def _decides(who: str, verb: Any, data: Any, world: World) -> bool:
    """Would this click be a valid decision by an approver? (Such examples get their hash altered.)"""
    if who not in ("alice", "bob") or not isinstance(data, dict):
        return False
    target = {"approve": world.consent, "deny": world.consent, "cancel": world.credentials}.get(verb) if isinstance(verb, str) else None
    return target is not None and data.get("planId") == target["planId"] and data.get("planHash") == target["planHash"]


@st.composite
def clicks(draw: st.DrawFn) -> dict[str, Any]:
    """What a click carries: `verb`, `data`, and the rest of `value` (trigger, authentication, state)."""
    plan = draw(st.sampled_from(["consent", "credentials", "unknown"]))
    verb = draw(st.one_of(st.sampled_from(VERBS), TEXT, JSON))
    structured = st.fixed_dictionaries(
        {"planId": st.one_of(st.just(plan), TEXT, JSON)},
        optional={
            "planHash": st.one_of(st.sampled_from(["real", "real-altered"]), TEXT, JSON),
            "reason": st.one_of(TEXT, st.text(min_size=400, max_size=700), JSON),
        },
    ).flatmap(lambda d: st.builds(lambda extra: {**extra, **d}, st.dictionaries(TEXT, JSON, max_size=2)))
    data = draw(st.one_of(structured, JSON))
    value: dict[str, Any] = {"trigger": draw(st.one_of(st.sampled_from(["manual", "automatic"]), TEXT))}
    if draw(st.booleans()):
        value["authentication"] = draw(
            st.one_of(
                st.fixed_dictionaries({"id": TEXT, "connectionName": st.one_of(st.just("sso"), TEXT), "token": st.one_of(TEXT, JSON)}), JSON
            )
        )
    if draw(st.booleans()):
        value["state"] = draw(st.one_of(TEXT, JSON))
    action_type = draw(st.sampled_from(["Action.Execute"] * 6 + ["Action.Submit", "", "action.execute"]))
    whole = draw(st.one_of(st.none(), st.none(), st.none(), JSON))  # sometimes `value` is anything at all
    return {"verb": verb, "data": data, "value": value, "type": action_type, "whole": whole}


def _resolve(data: Any, world: World) -> Any:
    """Fill the placeholders in generated data with the real plan ids and hashes."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    placeholder = data.get("planId")
    target = {"consent": world.consent, "credentials": world.credentials}.get(placeholder) if isinstance(placeholder, str) else None
    if target:
        data["planId"] = target["planId"]
    if target and data.get("planHash") == "real":
        data["planHash"] = target["planHash"]
    elif target and data.get("planHash") == "real-altered":
        data["planHash"] = target["planHash"][:-1] + ("0" if target["planHash"][-1] != "0" else "1")
    return data


@FUZZ
@given(who=st.sampled_from(["alice", "bob", "carol", "mallory", "stranger"]), click=clicks())
async def test_no_click_decides_without_a_valid_authorised_approval(
    who: str, click: dict[str, Any], sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path, plans: World
) -> None:
    count("invoke: value/data")
    before = await starting_snapshot(bot, store_path, sandbox)
    user = _stranger(sandbox) if who == "stranger" else sandbox.world.user(who)
    data = _resolve(click["data"], plans)
    if _decides(who, click["verb"], data, plans):
        data["planHash"] = data["planHash"][::-1] + "x"
    chat = plans.chat if user.tenant_id == sandbox.world.home_tenant_id else TeamsDriver.group_chat(user.tenant_id, "fuzz-other")
    activity = driver.invoke(user, chat, plans.chat.id, plans.consent_card, "approve", {})
    value: dict[str, Any] = {**click["value"], "action": {"type": click["type"], "id": "fuzz", "verb": click["verb"], "data": data}}
    activity["value"] = value if click["whole"] is None else click["whole"]
    result = await driver.post(activity)
    assert_invoke_ok(result)
    await settle(bot)
    assert_preserved(before, snapshot(store_path, sandbox), sandbox)


@pytest.fixture
def sso_base(sandbox: Sandbox) -> dict[str, Any]:
    """The claims of a valid Teams SSO token for alice (decoded from one the Entra simulator issues)."""
    claims: dict[str, Any] = jwt.decode(sandbox.entra.sso_token("alice"), options={"verify_signature": False})
    return claims


def _sso_others(sandbox: Sandbox) -> dict[str, list[Any]]:
    w = sandbox.world
    other_tenant = w.user("mallory").tenant_id
    return {
        "aud": ["api://elsewhere", "https://management.azure.com", "https://graph.microsoft.com", w.agent.client_id, ""],
        "iss": [
            sandbox.entra.issuer(other_tenant, 1),
            sandbox.entra.issuer(other_tenant, 2),
            "https://evil.example/",
            "https://sts.windows.net/",
        ],
        "tid": [other_tenant],
        "oid": [w.user("bob").object_id, w.user("carol").object_id, w.user("mallory").object_id, ""],
        "scp": ["", "User.Read", "access_as_user_not", "ACCESS_AS_USER", ["access_as_user"]],
    }


@FUZZ
@given(data=st.data())
async def test_no_mutated_sso_token_lends_rights(
    data: st.DataObject, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path: Path, plans: World, sso_base: dict[str, Any]
) -> None:
    """alice clicks "Use my credentials" with the right plan and hash, but a token broken in at least one way
    (claims, header, signature, algorithm; signed by the simulator's key or a forged one): refused, no change."""
    count("sso tokens")
    token = data.draw(mutated_token(sso_base, sandbox.entra.keys, _sso_others(sandbox), sandbox.entra.issued))
    before = await starting_snapshot(bot, store_path, sandbox)
    alice = sandbox.world.user("alice")
    activity = driver.invoke(
        alice, plans.chat2, plans.chat2.id, plans.credentials_card, "grant", dict(plans.credentials), token=token, connection_name="sso"
    )
    result = await driver.post(activity)
    assert_invoke_ok(result)
    assert result.status_code in (400, 401, 403, 412) or result.type == "application/vnd.microsoft.activity.message", result.body
    await settle(bot)
    assert_preserved(before, snapshot(store_path, sandbox), sandbox)
