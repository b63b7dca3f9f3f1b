"""The sign-in fallback when Teams SSO is not possible: the token service's sign-in link, then the magic code.

The loginRequest's button is the Bot Framework token service's sign-in link for the OAuth connection;
after the person signs in, Teams sends the same invoke again with the magic code in `value.state`. The
bot trades it for the connection's token (the bot's own access_as_user), checks it like an SSO token
(oid = the clicker), and exchanges it On-Behalf-Of as usual.
"""

from __future__ import annotations

from sandbox import Sandbox
from sandbox.driver import BotMessage, Conversation, InvokeResult, TeamsDriver

from .harness import RunningBot, Teams, find_action

LOGIN = "application/vnd.microsoft.activity.loginRequest"
INVALID_CODE = "application/vnd.microsoft.error.invalidAuthCode"


async def _refused_plan(teams: Teams, chat: Conversation) -> BotMessage:
    card = await teams.ask("carol", "restart vm web-01", chat)
    await teams.click("alice", chat, card, "approve")
    await teams.wait_card(card, "credentials needed")
    return card


async def _login_request(teams: Teams, who: str, chat: Conversation, card: BotMessage) -> tuple[InvokeResult, dict[str, object]]:
    data = find_action(await teams.view(who, chat, card), "grant")
    assert data is not None
    first = await teams.click(who, chat, card, "grant", data)
    assert (first.status_code, first.type) == (401, LOGIN), first.body
    return first, data


async def test_alice_signs_in_through_the_link_and_the_plan_runs_as_her(
    teams: Teams,
    driver: TeamsDriver,
    sandbox: Sandbox,
    chat: Conversation,
    bot: RunningBot,
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    first, data = await _login_request(teams, "alice", chat, card)
    link = first.value["buttons"][0]["value"]
    assert link.startswith(f"{sandbox.token_service.base_url}/api/oauth/signin?signin=")  # a live link, not a bare authorize URL
    code = await driver.sign_in(first, "alice")
    retried = await teams.click("alice", chat, card, "grant", data, state=code)
    assert retried.status_code == 200, retried.body
    await teams.wait_card(card, "Succeeded")
    reply = await teams.wait_reply(card, "Succeeded")
    assert "on behalf of Alice Admin" in reply.text
    alice = sandbox.world.user("alice").object_id
    assert [w.caller_oid for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/web-01")] == [alice]
    # the bot used the token once and signed alice out: the token service keeps nothing of hers
    assert not [k for k in sandbox.token_service.tokens if k[0] == sandbox.world.user("alice").teams_id]


async def test_a_wrong_code_is_answered_invalid_auth_code_and_nothing_runs(
    teams: Teams,
    driver: TeamsDriver,
    sandbox: Sandbox,
    chat: Conversation,
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    first, data = await _login_request(teams, "alice", chat, card)
    code = await driver.sign_in(first, "alice")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answer = await teams.click("alice", chat, card, "grant", data, state=wrong)
    assert (answer.status, answer.status_code, answer.type) == (200, 401, INVALID_CODE)
    # bob clicking with alice's code gets nothing either: a code is bound to the person it was made for
    bob_data = find_action(await teams.view("bob", chat, card), "grant")
    assert bob_data is not None
    stolen = await teams.click("bob", chat, card, "grant", bob_data, state=code)
    assert stolen.status_code == 401 and stolen.type == INVALID_CODE
    await teams.wait_card(card, "credentials needed")  # still waiting for someone's credentials
    assert not [w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/web-01")]


async def test_signing_in_as_someone_else_is_refused_like_a_foreign_sso_token(
    teams: Teams,
    driver: TeamsDriver,
    sandbox: Sandbox,
    chat: Conversation,
) -> None:
    since = len(sandbox.arm.writes)
    card = await _refused_plan(teams, chat)
    first, data = await _login_request(teams, "alice", chat, card)
    code = await driver.sign_in(first, "bob")  # alice clicked, but bob's account signs in on the page
    answer = await teams.click("alice", chat, card, "grant", data, state=code)
    assert answer.status_code == 400 and "someone other than the person who clicked" in answer.value["message"]
    assert not [w for w in sandbox.arm.writes[since:] if w.vm_id.endswith("/web-01")]
