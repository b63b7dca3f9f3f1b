"""Fuzzing chat text: the command parser directly, and whole messages through the running bot."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.conversation.commands import HelpCommand, PendingCommand, StatusCommand, Unknown, VmCommand, parse
from bot.domain.names import resource_group_problem, vm_name_problem
from sandbox import Sandbox
from sandbox.driver import TeamsDriver

from ..integration.harness import RunningBot
from .conftest import FUZZ, count
from .guard import assert_not_5xx, assert_preserved, awaiting_consent_in, settle, snapshot, starting_snapshot
from .strategies import NASTY, TEXT

VERBS = st.sampled_from(["restart", "start", "stop", "deallocate", "redeploy", "status", "reboot", "RESTART", "help", "pending"])
OTHER_SUB = "/subscriptions/00000000-0000-0000-0000-0000000000bb"


@st.composite
def targets(draw: st.DrawFn) -> str:
    """VM names and resource ids, valid, near-valid and hostile."""
    sub = draw(st.sampled_from(["/subscriptions/00000000-0000-0000-0000-0000000000aa", OTHER_SUB, "/subscriptions/x"]))
    rg = draw(st.sampled_from(["prod-rg", "dev-rg", "..", "prod-rg/../dev-rg", "nope"]))
    name = draw(st.one_of(st.sampled_from(["web-01", "web-02", "dev-01", "WEB-01", "web-01.", "web..01", "x" * 80]), TEXT))
    return draw(
        st.sampled_from(
            [
                name,
                f"{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}",
                f"{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}/../../../..",
                f"{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}",
            ]
        )
    )


@st.composite
def commands(draw: st.DrawFn) -> str:
    """Command-shaped text (verb vm target [in group]) mixed with arbitrary text."""
    shaped = f"{draw(VERBS)} vm {draw(targets())}"
    if draw(st.booleans()):
        shaped += f" in {draw(st.one_of(st.sampled_from(['prod-rg', 'dev-rg', 'PROD-RG', '..', 'a/b']), TEXT))}"
    return draw(st.one_of(st.just(shaped), TEXT, st.text(max_size=300), st.builds(lambda a, b: a + b, NASTY, st.just(shaped))))


@FUZZ
@given(text=st.one_of(commands(), st.text()))
def test_parser_never_raises_and_lets_only_valid_names_through(text: str) -> None:
    count("chat: parser")
    command = parse(text)
    assert isinstance(command, VmCommand | StatusCommand | HelpCommand | PendingCommand | Unknown)
    if isinstance(command, VmCommand | StatusCommand):
        if command.resource_group is not None:
            assert resource_group_problem(command.resource_group) is None
        if not command.target.lower().startswith("/subscriptions/"):
            assert vm_name_problem(command.target) is None
    if isinstance(command, Unknown):
        assert command.hint  # every refusal says what to do next


@pytest.fixture
def conversations(sandbox: Sandbox) -> Callable[[str], object]:
    """A person's chat for one example: a new chat every 7 examples of theirs. The sandbox enforces Teams' per-thread
    limits (60 sends per 30 s, 1,800 per hour): with one chat per person, 10,000 examples would mostly test Teams' pace
    (hours of waiting), not the parser and the services."""
    examples: Counter[str] = Counter()

    def chat(who: str) -> object:
        examples[who] += 1
        return TeamsDriver.group_chat(sandbox.world.user(who).tenant_id, f"fuzz-chat-{who}-{examples[who] // 7}")

    return chat


@FUZZ
@given(who=st.sampled_from(["alice", "carol", "mallory"]), text=commands(), mention=st.booleans())
async def test_any_message_gets_an_answer_and_at_most_a_plan_waiting_for_consent(
    who: str, text: str, mention: bool, sandbox: Sandbox, bot: RunningBot, driver: TeamsDriver, store_path, conversations
) -> None:
    """Whatever is typed: never a 5xx, never a write; at most one new plan, waiting for consent, inside the allowed
    scope, asked for by someone of the home tenant."""
    count("chat: messages via bot")
    before = await starting_snapshot(bot, store_path, sandbox)
    user = sandbox.world.user(who)
    result = await driver.post(driver.message(user, text, conversations(who), mention=mention))  # type: ignore[arg-type]
    assert_not_5xx(result.status, result.body)
    await settle(bot)
    scope = f"/subscriptions/{sandbox.world.subscription_id}"
    added = assert_preserved(before, snapshot(store_path, sandbox), sandbox, awaiting_consent_in(scope, "chat"))
    assert len(added) <= 1
    if added:
        assert user.tenant_id == sandbox.world.home_tenant_id
        assert json.loads(snapshot(store_path, sandbox).plans[added[0]][2])["requested_by"]["object_id"] == user.object_id
