"""Who may approve by the configuration in force at the click (issue 25, points 7 and 9)."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.approvers import NOBODY, ApproversInForce, approvers_in_force
from bot.domain.callers import ApiCaller
from bot.domain.consent import ConsentPolicy
from bot.domain.entries import operations
from bot.domain.follow_up import Escalation, FollowUp
from bot.domain.incident import ResponsePlan
from bot.domain.plan import Mode, Operation, Source

from .factories import ALICE, BOB, CAROL, NOW, proposed

APP = "11111111-2222-3333-4444-555555555555"
CONFIGURED = ConsentPolicy(approvers=frozenset({BOB.object_id}), approver_group="g-1")
CALLER = ApiCaller(APP, "SRE Agent", (), operations(["restart"], "caller"), excluded_approvers=frozenset({ALICE.object_id}))
RESPONSE = ResponsePlan(
    "web-hung", ("Web*",), frozenset(), Operation.RESTART, Mode.REVIEW, "19:c", "", "t", frozenset({ALICE.object_id}), ()
)


def test_a_chat_plan_is_judged_by_the_configured_approvers_now() -> None:
    assert approvers_in_force(proposed(), CONFIGURED, [], None) == ApproversInForce(frozenset({BOB.object_id}), ("g-1",))


def test_an_api_plan_also_excludes_the_people_behind_its_caller() -> None:
    plan = replace(proposed(), source=Source.API, origin=APP)
    now = approvers_in_force(plan, CONFIGURED, [], [CALLER])
    assert now == ApproversInForce(frozenset({BOB.object_id}), ("g-1",), frozenset({ALICE.object_id}))
    assert approvers_in_force(plan, CONFIGURED, [], []) == NOBODY  # its caller no longer registered: nobody approves


def test_an_incident_plan_is_judged_by_its_response_plans_responders_now() -> None:
    plan = replace(proposed(), source=Source.INCIDENT, origin="web-hung")
    assert approvers_in_force(plan, CONFIGURED, [RESPONSE], None) == ApproversInForce(frozenset({ALICE.object_id}))
    assert approvers_in_force(plan, CONFIGURED, [], None) == NOBODY  # the response plan was removed
    assert approvers_in_force(replace(plan, origin=None), CONFIGURED, [RESPONSE], None) is None  # stored before origins


def test_an_escalated_plan_is_judged_by_the_configured_escalation_too() -> None:
    escalation = Escalation(frozenset({CAROL.object_id}), "g-2")
    escalated = replace(proposed(), follow_up=FollowUp(escalated_at=NOW))
    assert approvers_in_force(escalated, CONFIGURED, [], None, escalation) == ApproversInForce(
        frozenset({BOB.object_id, CAROL.object_id}), ("g-1", "g-2")
    )
    assert approvers_in_force(proposed(), CONFIGURED, [], None, escalation) == ApproversInForce(frozenset({BOB.object_id}), ("g-1",))
