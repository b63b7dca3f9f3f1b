"""Temporary credentials (docs/design.md §2-§3): SSO over Universal Actions, On-Behalf-Of, release."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation
from sandbox.keys import SigningKey
from sandbox.world import OboError

from ..conftest import each_token_version
from .harness import ManualClock, RunningBot, Teams, card_text, eventually, find_action

LOGIN = "application/vnd.microsoft.activity.loginRequest"
PRECONDITION_FAILED = "application/vnd.microsoft.error.preconditionFailed"
sandbox = each_token_version()  # every scenario runs with the bot's API on v1 tokens (the file as written) and on v2


def _writes(sandbox: Sandbox, since: int, vm: str = "web-01", caller: str | None = None) -> int:
    """Writes to `vm` (by `caller`) since the write log had `since` entries."""
    return sum(1 for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/" + vm) and caller in (None, w.caller_oid))


async def _refused_plan(teams: Teams, chat: Conversation, vm: str = "web-01") -> BotMessage:
    """carol asks for a prod restart, alice approves, the agent (Reader on prod-rg) is refused."""
    card = await teams.ask("carol", f"restart vm {vm}", chat)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "credentials needed")
    return card


async def _grant(teams: Teams, who: str, chat: Conversation, card: BotMessage, token: str) -> object:
    data = find_action(await teams.view(who, chat, card), "grant")
    assert data is not None, f"{who} sees no 'Use my credentials' button"
    return await teams.click(who, chat, card, "grant", data, token=token, connection_name="sso")


async def test_alice_lends_her_rights_after_the_sso_handshake(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot) -> None:
    alice, agent = sandbox.world.user("alice").object_id, sandbox.world.agent.object_id
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    waiting = await teams.view("alice", chat, card)
    assert waiting["authentication"]["tokenExchangeResource"]["uri"] == sandbox.world.bot.app_id_uri
    first = await teams.click("alice", chat, card, "grant")  # no token yet
    assert (first.status, first.status_code, first.type) == (200, 401, LOGIN)
    assert first.value["connectionName"] and first.value["tokenExchangeResource"]["uri"] == sandbox.world.bot.app_id_uri
    assert first.value["buttons"]
    retried = await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice"))
    assert retried.status_code == 200  # type: ignore[attr-defined]
    await teams.wait_card(card, "Succeeded")
    reply = await teams.wait_reply(card, "Succeeded")
    assert "on behalf of Alice Admin" in reply.text and "approved by Alice Admin" in reply.text
    assert _writes(sandbox, since, caller=alice) == 1 and _writes(sandbox, since, caller=agent) == 0

    async def events() -> list[str]:
        return [e.event for e in await bot.container.store.events()]

    await eventually(lambda: _has(events, "credentials_released"), "the credentials are released")  # after the reply
    assert (await events()).index("credentials_used") < (await events()).index("credentials_released")


async def test_reader_grant_ends_user_not_authorized_naming_the_permission(teams: Teams, sandbox: Sandbox, chat: Conversation) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    await _grant(teams, "bob", chat, card, sandbox.entra.sso_token("bob"))
    final = await teams.wait_card(card, "Not authorized")
    assert "restart/action" in card_text(final)
    reply = await teams.wait_reply(card, "Not authorized")
    assert "Microsoft.Compute/virtualMachines/restart/action" in reply.text
    assert _writes(sandbox, since) == 0


async def test_cancel_declines_and_nothing_runs(teams: Teams, sandbox: Sandbox, chat: Conversation) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    result = await teams.click("alice", chat, card, "cancel")
    assert "declined" in card_text(result.value).lower()
    await teams.wait_reply(card, "Credentials declined")
    assert _writes(sandbox, since) == 0


async def test_credentials_request_expires(make_bot: object, sandbox: Sandbox, chat: Conversation) -> None:
    clock = ManualClock()
    bot: RunningBot = make_bot(clock)  # type: ignore[operator]
    async with sandbox.driver(bot.messages_url) as d:
        teams = Teams(d, sandbox)
        since = len(sandbox.arm.writes)
        card = await _refused_plan(teams, chat)
        data = find_action(await teams.view("alice", chat, card), "grant")
        clock.advance(minutes=16)
        await teams.wait_card(card, "Expired")
        late = await teams.click("alice", chat, card, "grant", data, token=sandbox.entra.sso_token("alice"))
        assert "no longer applies" in late.value or "expired" in late.value
    assert _writes(sandbox, since) == 0


def _forged(sandbox: Sandbox, kind: str) -> str:
    e = sandbox.entra
    if kind == "wrongly_signed":
        token = e.sso_token("alice")
        forged = SigningKey(kid=sandbox.keys.active.kid, private_key=SigningKey.generate().private_key)
        import jwt

        return forged.sign(jwt.decode(token, options={"verify_signature": False}))
    if kind == "other_audience":
        return e.sso_token("alice", audience="api://someone-else")
    if kind == "other_tenant":
        return e.sso_token("mallory", extra={"oid": sandbox.world.user("alice").object_id})
    if kind == "missing_scope":
        return e.sso_token("alice", scopes="User.Read")
    if kind == "someone_else":
        return e.sso_token("bob")
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["wrongly_signed", "other_audience", "other_tenant", "missing_scope", "someone_else"])
async def test_bad_sso_tokens_are_refused(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot, kind: str) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    result = await _grant(teams, "alice", chat, card, _forged(sandbox, kind))
    assert "refused" in str(result.value)  # type: ignore[attr-defined]
    assert "credentials needed" in card_text(await teams.card_now(card))  # still waiting
    assert [e for e in await bot.container.store.events() if e.event == "credentials_refused" and e.detail["code"] == "rejected"]
    await bot.settled()
    assert _writes(sandbox, since) == 0


async def test_an_sso_token_issued_to_another_app_the_person_consented_to_lends_no_rights(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot
) -> None:
    """alice once consented to some other app asking for the bot's access_as_user: Entra gives that app a token that
    is valid in every other respect. Only the Teams and Microsoft 365 clients Microsoft documents for Teams SSO (and
    the bot's own sign-in) may bring one; an Outlook client, on that list, may."""
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    other_app = sandbox.world.apps["unlisted-app"].client_id
    result = await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice", client_id=other_app, interactive=True))
    assert "issued to an app other than Microsoft Teams" in str(result.value)  # type: ignore[attr-defined]
    assert "credentials needed" in card_text(await teams.card_now(card))  # still waiting
    assert [e for e in await bot.container.store.events() if e.event == "credentials_refused" and e.detail["code"] == "rejected"]
    await bot.settled()
    assert _writes(sandbox, since) == 0
    outlook_web = "bc59ab01-8403-45c6-8796-ac3ef710b3e3"
    await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice", client_id=outlook_web))
    await teams.wait_card(card, "Succeeded")


@pytest.mark.parametrize("kind", ["expired", "not_yet_valid"])
async def test_an_expired_or_early_sso_token_answers_412_so_teams_fetches_a_fresh_one(
    teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot, kind: str
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    stale = (
        sandbox.entra.sso_token("alice", lifetime=-600) if kind == "expired" else sandbox.entra.sso_token("alice", not_before_offset=600)
    )
    result = await _grant(teams, "alice", chat, card, stale)
    assert (result.status_code, result.type) == (412, PRECONDITION_FAILED)  # type: ignore[attr-defined]
    assert "fresh" in result.value["message"]  # type: ignore[attr-defined]
    assert "credentials needed" in card_text(await teams.card_now(card))  # still waiting
    assert [e for e in await bot.container.store.events() if e.event == "credentials_refused" and e.detail["code"] == "expired"]
    assert _writes(sandbox, since) == 0
    await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice"))  # Teams' fresh token works
    await teams.wait_card(card, "Succeeded")


@pytest.mark.parametrize(
    ("mode", "status", "words"),
    [
        (OboError.MFA_REQUIRED, 200, "sign in again"),
        (OboError.CONSENT_REQUIRED, 200, "admin consent"),
        (OboError.INVALID_ASSERTION, 412, "no longer valid"),
    ],
)
async def test_obo_errors_ask_the_right_thing_and_run_nothing(
    teams: Teams, sandbox: Sandbox, chat: Conversation, mode: OboError, status: int, words: str
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    sandbox.entra.set_obo_error("alice", mode)
    result = await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice"))
    assert result.status_code == status  # type: ignore[attr-defined]
    assert words in str(result.value)  # type: ignore[attr-defined]
    assert _writes(sandbox, since) == 0
    sandbox.entra.set_obo_error("alice", None)
    await _grant(teams, "alice", chat, card, sandbox.entra.sso_token("alice"))  # fixed: the plan was still waiting
    await teams.wait_card(card, "Succeeded")


async def _has(events: Callable[[], Awaitable[list[str]]], event: str) -> bool:
    return event in await events()


async def _released(bot: RunningBot) -> bool:
    return any(e.event == "credentials_released" for e in await bot.container.store.events())


async def test_two_approvers_granting_at_once_execute_once(teams: Teams, sandbox: Sandbox, chat: Conversation, bot: RunningBot) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    data = find_action(await teams.view("alice", chat, card), "grant")
    results = await asyncio.gather(
        *(teams.click(who, chat, card, "grant", data, token=sandbox.entra.sso_token(who)) for who in ["alice", "bob"] * 5)
    )
    winners = [r for r in results if r.type == "application/vnd.microsoft.card.adaptive"]
    assert len(winners) == 1
    alice_won = "Credentials of: Alice Admin" in card_text(winners[0].value)
    await teams.wait_card(card, "Succeeded" if alice_won else "Not authorized")
    await eventually(lambda: _released(bot), "the credentials are released")  # the execution is over
    assert _writes(sandbox, since) == (1 if alice_won else 0)  # bob (Reader) is refused by Azure, alice writes once
