"""The one rule for who may act on a plan now (bot/domain/permissions.py), and the one vocabulary of operations."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain import transitions as t
from bot.domain.incident import parse_response_plans
from bot.domain.permissions import PlanAction as A
from bot.domain.permissions import Why, permission
from bot.domain.plan import OPERATION_WORDS, Operation
from bot.domain.scope import Scope

from .factories import ALICE, BOB, CAROL, NOW, every_state, proposed


def test_an_approver_may_approve_or_deny_a_plan_waiting_for_consent() -> None:
    plan = every_state()["awaiting_consent"]
    allowed = permission(plan, BOB.object_id, NOW, True)
    assert allowed.actions == {A.APPROVE, A.DENY} and allowed.why is Why.MAY_DECIDE and allowed.awaits_you


@pytest.mark.parametrize(
    ("who", "is_approver", "why"),
    [(CAROL.object_id, True, Why.SELF_APPROVAL), ("someone-else", False, Why.NOT_AN_APPROVER)],
)
def test_the_requester_and_strangers_may_do_nothing(who: str, is_approver: bool, why: Why) -> None:
    allowed = permission(every_state()["awaiting_consent"], who, NOW, is_approver)
    assert allowed.actions == frozenset() and allowed.why is why and not allowed.awaits_you


def test_the_requester_may_approve_when_the_policy_allows_self_approval() -> None:
    plan = t.present(proposed(replace(proposed().policy, allow_self_approval=True)), NOW)
    assert permission(plan, CAROL.object_id, NOW, True).allows(A.APPROVE)


def test_an_approver_who_approved_may_only_deny_and_is_not_waited_for() -> None:
    plan = t.present(proposed(replace(proposed().policy, approvals_required=2)), NOW)
    plan = t.approve(plan, ALICE, plan.content_hash, NOW, True)
    allowed = permission(plan, ALICE.object_id, NOW, True)
    assert allowed.actions == {A.DENY} and allowed.why is Why.ALREADY_APPROVED_BY_YOU and not allowed.awaits_you


def test_a_credentials_request_waits_for_every_approver_including_the_one_who_approved() -> None:
    plan = every_state()["awaiting_credentials"]
    assert ALICE in plan.approvers_so_far
    allowed = permission(plan, ALICE.object_id, NOW, True)
    assert allowed.actions == {A.GRANT, A.CANCEL} and allowed.why is Why.MAY_LEND_CREDENTIALS and allowed.awaits_you
    assert permission(plan, "someone-else", NOW, False).why is Why.NOT_AN_APPROVER


def test_nothing_may_be_done_past_the_deadline_or_outside_the_waiting_states() -> None:
    states = every_state()
    late = states["awaiting_consent"].expires_at + timedelta(seconds=1)
    assert permission(states["awaiting_consent"], BOB.object_id, late, True).why is Why.EXPIRED
    for name in ("proposed", "approved", "executing", "succeeded", "denied", "expired", "interrupted"):
        allowed = permission(states[name], BOB.object_id, NOW, True)
        assert allowed.actions == frozenset() and allowed.why is Why.NOT_WAITING, name


def test_operation_parse_accepts_the_same_words_as_chat_api_and_response_plans() -> None:
    assert Operation.parse("stop") is Operation.POWER_OFF
    assert Operation.parse(" PowerOff ") is Operation.POWER_OFF
    assert {Operation.parse(w) for w in OPERATION_WORDS} == {
        Operation.RESTART,
        Operation.START,
        Operation.POWER_OFF,
        Operation.DEALLOCATE,
        Operation.REDEPLOY,
    }
    with pytest.raises(ValueError, match="restart, start, powerOff, deallocate, redeploy, stop"):
        Operation.parse("reboot")


def test_a_response_plan_may_say_stop_like_chat_and_the_api() -> None:
    from bot.adapters.conversation.commands import VmCommand, parse

    command = parse("stop vm web-01")
    assert isinstance(command, VmCommand) and command.operation is Operation.POWER_OFF
    powered = parse("poweroff vm web-01")
    assert isinstance(powered, VmCommand) and powered.operation is Operation.POWER_OFF
    sub = "00000000-0000-0000-0000-0000000000aa"
    plans = parse_response_plans(
        {
            "responsePlans": [
                {
                    "name": "x",
                    "match": {"alertRules": ["cpu"]},
                    "operation": "stop",
                    "channel": {"id": "19:a@thread.tacv2"},
                    "responders": ["r"],
                    "scopes": [f"/subscriptions/{sub}"],
                }
            ]
        },
        "https://smba.example/",
        "t",
        (Scope(sub),),
    )
    assert plans[0].operation is Operation.POWER_OFF
