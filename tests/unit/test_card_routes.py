"""Every Action.Execute a card can carry (buttons and `refresh`) reaches a handler of the conversation's router.

The verbs come from the router itself (what is registered), never from the card module's constants: a
button whose verb nobody routes would answer every click with 'malformed'.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.adapters.conversation.commands import HelpCommand, PendingCommand, StatusCommand, Unknown, VmCommand
from bot.adapters.conversation.core import ROUTER
from bot.domain.incident import parse_alert, parse_response_plans
from cards.incident_card import incident_card
from cards.plan_card import READ_ONLY, SsoSettings, Viewer, plan_card
from sandbox.monitor import alert_payload

from .factories import NOW, every_state
from .test_incident import ALLOWED, PLANS, VM

SSO = SsoSettings("sso", "api://localhost/botid-00000000-0000-0000-0000-000000000001")


def execute_actions(node: Any) -> Iterator[dict[str, Any]]:
    """Every Action.Execute in a card: body, action sets, show-cards and the `refresh` action alike."""
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            yield node
        for child in node.values():
            yield from execute_actions(child)
    elif isinstance(node, list):
        for child in node:
            yield from execute_actions(child)


def every_card() -> Iterator[tuple[str, dict[str, Any]]]:
    for state, plan in every_state().items():
        for name, viewer in (("approver", Viewer(can_act=True)), ("read_only", READ_ONLY)):
            yield f"plan-{state}-{name}", plan_card(plan, viewer, NOW, refresh_user_ids=["29:alice"], sso=SSO)
    (response_plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    alert = parse_alert(alert_payload("Web tier unresponsive", [VM], alert_id="alert-1"))
    yield "incident", incident_card(alert, response_plan)
    yield "incident-withheld", incident_card(alert, response_plan, withheld="a target is outside the plan's scopes")


CARDS = dict(every_card())


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_action_execute_on_the_card_reaches_a_routed_handler(name: str) -> None:
    for action in execute_actions(CARDS[name]):
        assert action["verb"] in ROUTER.verbs, f"{name}: verb {action['verb']!r} has no handler on the router"
        assert isinstance(action.get("data", {}).get("planId"), str), f"{name}: {action['verb']} carries no plan id"


def test_the_cards_use_every_routed_verb_and_the_walk_sees_buttons_and_refresh() -> None:
    seen = {a["verb"] for card in CARDS.values() for a in execute_actions(card)}
    assert seen == ROUTER.verbs  # a routed verb no card shows is dead code; the walk finds refresh and buttons


def test_every_command_the_parser_returns_has_a_handler() -> None:
    assert ROUTER.command_types == {HelpCommand, PendingCommand, StatusCommand, VmCommand, Unknown}
