"""The state machine of docs/design.md §2, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import transitions as t
from bot.domain.consent import ConsentPolicy
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.permissions import PlanAction
from bot.domain.plan import Mode, PlanState, Source

from .factories import ALICE, ALL_STATES, BOB, CAROL, DENIED, NOW, POLICY, every_state, outcome, proposed


def test_every_state_is_reachable_by_legal_moves() -> None:
    assert {p.state for p in every_state().values()} == ALL_STATES


def test_review_plan_awaits_consent() -> None:
    assert t.present(proposed(), NOW).state is PlanState.AWAITING_CONSENT


def test_autonomous_outside_an_incident_plan_is_refused() -> None:
    with pytest.raises(Refusal) as e:
        t.present(replace(proposed(), mode=Mode.AUTONOMOUS), NOW)
    assert e.value.code is RefusalCode.AUTONOMOUS_NOT_ALLOWED


def test_autonomous_incident_plan_is_approved_implicitly() -> None:
    plan = replace(proposed(), mode=Mode.AUTONOMOUS, source=Source.INCIDENT)
    assert t.present(plan, NOW).state is PlanState.APPROVED


@pytest.mark.parametrize(
    ("who", "is_approver", "code"),
    [(CAROL, True, RefusalCode.SELF_APPROVAL), (BOB, False, RefusalCode.NOT_AN_APPROVER)],
)
def test_wrong_person_is_refused(who: object, is_approver: bool, code: RefusalCode) -> None:
    plan = t.present(proposed(), NOW)
    with pytest.raises(Refusal) as e:
        t.approve(plan, who, plan.content_hash, NOW, is_approver)  # type: ignore[arg-type]
    assert e.value.code is code


def test_self_approval_is_allowed_when_the_policy_says_so() -> None:
    plan = t.present(proposed(policy=replace(POLICY, approvers=POLICY.approvers | {CAROL.object_id}, allow_self_approval=True)), NOW)
    assert t.approve(plan, CAROL, plan.content_hash, NOW, True).state is PlanState.APPROVED


def test_stale_hash_is_refused() -> None:
    plan = t.present(proposed(), NOW)
    with pytest.raises(Refusal) as e:
        t.approve(plan, ALICE, "0" * 32, NOW, True)
    assert e.value.code is RefusalCode.STALE_CARD


def test_expired_plan_cannot_be_approved() -> None:
    plan = t.present(proposed(), NOW)
    with pytest.raises(Refusal) as e:
        t.approve(plan, ALICE, plan.content_hash, NOW + timedelta(minutes=30), True)
    assert e.value.code is RefusalCode.EXPIRED


def test_second_click_is_told_plan_already_approved() -> None:
    plan = t.present(proposed(), NOW)
    approved = t.approve(plan, ALICE, plan.content_hash, NOW, True)
    with pytest.raises(Refusal) as e:
        t.approve(approved, BOB, plan.content_hash, NOW, True)
    assert "already approved by Alice Admin" in e.value.message


def test_two_of_two_counts_distinct_approvers() -> None:
    plan = t.present(proposed(policy=replace(POLICY, approvals_required=2)), NOW)
    once = t.approve(plan, BOB, plan.content_hash, NOW, True)
    assert once.state is PlanState.AWAITING_CONSENT and once.approvals_missing == 1
    with pytest.raises(Refusal) as e:
        t.approve(once, BOB, plan.content_hash, NOW, True)
    assert e.value.code is RefusalCode.ALREADY_APPROVED_BY_YOU
    assert t.approve(once, ALICE, plan.content_hash, NOW, True).state is PlanState.APPROVED


def test_hash_binds_what_the_approver_saw() -> None:
    plan = proposed()
    assert replace(plan, title="Restart VM web-02").content_hash != plan.content_hash
    assert replace(plan, policy=replace(POLICY, approvals_required=2)).content_hash != plan.content_hash
    assert replace(plan, state=PlanState.APPROVED, version=9).content_hash == plan.content_hash


def test_failure_stops_the_plan_and_later_actions_do_not_run() -> None:
    executing = every_state()["executing"]
    two = replace(executing, actions=executing.actions * 2)
    failed = t.action_failed(two, outcome("failed", "the agent identity", "boom"), NOW)
    assert failed.state is PlanState.FAILED and failed.next_action == 0


def test_a_refusal_resumes_from_the_refused_action_as_the_user() -> None:
    executing = every_state()["executing"]
    two = replace(executing, actions=executing.actions * 2)
    first_done = t.action_succeeded(two, outcome("succeeded", "the agent identity", "ok"))
    assert first_done.state is PlanState.EXECUTING and first_done.next_action == 1
    refused = t.agent_refused(first_done, DENIED, outcome("refused", "the agent identity", "no"), NOW)
    resumed = t.grant_credentials(refused, ALICE, NOW)
    assert resumed.state is PlanState.EXECUTING_AS_USER and resumed.next_action == 1


def test_credentials_request_gets_its_own_expiry() -> None:
    refused = every_state()["awaiting_credentials"]
    assert refused.expires_at == NOW + POLICY.credentials_expiry
    with pytest.raises(Refusal):
        t.grant_credentials(refused, ALICE, refused.expires_at)


def test_terminal_states_accept_no_move() -> None:
    for plan in every_state().values():
        if plan.state.is_terminal:
            for move in (lambda p: t.start(p, NOW), lambda p: t.expire(p, NOW + timedelta(days=1)), lambda p: t.interrupt(p, NOW)):
                with pytest.raises(Refusal):
                    move(plan)


@given(st.lists(st.sampled_from(["approve_a", "approve_b", "deny_a", "expire", "start"]), max_size=8))
def test_any_click_sequence_keeps_the_machine_legal(moves: list[str]) -> None:
    """Whatever order clicks arrive in, the plan only ever moves along the allowed edges."""
    plan = t.present(proposed(policy=replace(POLICY, approvals_required=2)), NOW)
    for move in moves:
        before = plan.state
        try:
            if move == "approve_a":
                plan = t.approve(plan, ALICE, plan.content_hash, NOW, True)
            elif move == "approve_b":
                plan = t.approve(plan, BOB, plan.content_hash, NOW, True)
            elif move == "deny_a":
                plan = t.deny(plan, ALICE, plan.content_hash, NOW, True, None)
            elif move == "expire":
                plan = t.expire(plan, NOW + timedelta(hours=1))
            else:
                plan = t.start(plan, NOW)
        except Refusal:
            continue
        assert plan.state in t.ALLOWED[before]
        assert len({a.approver.object_id for a in plan.approvals}) == len(plan.approvals)
        if plan.state in (PlanState.APPROVED, PlanState.EXECUTING):
            assert len(plan.approvals) >= 2


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        ConsentPolicy(approvals_required=0)
    with pytest.raises(ValueError):
        ConsentPolicy(expiry=timedelta(0))


def _refused_as(plan: object, who: str) -> object:
    return outcome("refused", f"on behalf of {who}", "Azure refused")


def test_a_user_refusal_ends_the_plan_by_default() -> None:
    as_user = every_state()["executing_as_user"]
    ended = t.user_refused(as_user, DENIED, _refused_as(as_user, "Alice Admin"), NOW + timedelta(minutes=2))  # type: ignore[arg-type]
    assert ended.state is PlanState.USER_NOT_AUTHORIZED and ended.finished_at is not None


def test_a_user_refusal_reopens_the_request_while_attempts_remain() -> None:
    """CREDENTIALS_ATTEMPTS=2: the first approver's refusal leaves the request open, the second ends it."""
    policy = replace(POLICY, credentials_attempts=2)
    refused = replace(every_state()["awaiting_credentials"], policy=policy)
    first = t.grant_credentials(refused, BOB, NOW + timedelta(minutes=1))
    reopened = t.user_refused(first, DENIED, _refused_as(first, "Bob Reader"), NOW + timedelta(minutes=2))  # type: ignore[arg-type]
    assert reopened.state is PlanState.AWAITING_CREDENTIALS and PlanState.AWAITING_CREDENTIALS in t.ALLOWED[first.state]
    assert reopened.credentials_by is None and reopened.finished_at is None
    assert reopened.expires_at == refused.expires_at  # the same deadline: attempts never extend it
    assert t.user_attempts(reopened) == 1
    second = t.grant_credentials(reopened, ALICE, NOW + timedelta(minutes=3))
    ended = t.user_refused(second, DENIED, _refused_as(second, "Alice Admin"), NOW + timedelta(minutes=4))  # type: ignore[arg-type]
    assert ended.state is PlanState.USER_NOT_AUTHORIZED and t.user_attempts(ended) == 2


def test_a_user_refusal_after_the_deadline_ends_the_plan_even_with_attempts_left() -> None:
    policy = replace(POLICY, credentials_attempts=5)
    refused = replace(every_state()["awaiting_credentials"], policy=policy)
    as_user = t.grant_credentials(refused, BOB, NOW + timedelta(minutes=1))
    late = refused.expires_at + timedelta(seconds=1)
    assert t.user_refused(as_user, DENIED, _refused_as(as_user, "Bob Reader"), late).state is PlanState.USER_NOT_AUTHORIZED  # type: ignore[arg-type]


def test_policy_needs_at_least_one_credentials_attempt() -> None:
    with pytest.raises(ValueError):
        ConsentPolicy(credentials_attempts=0)


def test_cancel_keeps_who_declined_and_why() -> None:
    declined = t.cancel_credentials(every_state()["awaiting_credentials"], BOB, NOW, "not during the sale")
    assert declined.state is PlanState.CREDENTIALS_DENIED and declined.decided_by == BOB
    assert declined.reason == "not during the sale"


def test_propose_again_is_offered_on_every_end_that_did_not_do_everything() -> None:
    assert {s for s in PlanState if s.is_terminal} - {PlanState.SUCCEEDED} == t.PROPOSE_AGAIN_STATES


@pytest.mark.parametrize(
    ("action", "told"),
    [
        (PlanAction.GRANT, "Only the plan's approvers may lend their credentials"),
        (PlanAction.CANCEL, "Only the plan's approvers may cancel the credentials request"),
    ],
)
def test_a_non_approver_is_told_what_they_could_not_do(action: PlanAction, told: str) -> None:
    refused = every_state()["awaiting_credentials"]
    with pytest.raises(Refusal) as e:
        t.check_can_answer_credentials(refused, CAROL, refused.content_hash, NOW, False, action)
    assert e.value.code is RefusalCode.NOT_AN_APPROVER and e.value.message.startswith(told)


def test_a_non_approver_is_told_who_can_approve() -> None:
    waiting = every_state()["awaiting_consent"]
    with pytest.raises(Refusal) as e:
        t.approve(waiting, BOB, waiting.content_hash, NOW, False)
    assert "Its approvers see Approve and Deny on this card" in e.value.message and "DEFAULT_APPROVERS" in e.value.message
