"""Approve and Deny: one compare-and-set per click, retried against whatever a concurrent click left."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain.approvers import ApproversInForce
from bot.domain.audit import AuditEventName as E
from bot.domain.errors import RefusalCode
from bot.domain.plan import PlanState
from bot.ports import RunResult, RunStatus
from bot.services.decide_consent import decide_consent
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, CAROL, POLICY

from .conftest import WEB02, propose, with_quorum


async def test_one_approval_runs_the_plan_with_the_agent_identity_and_tells_the_thread(world: World) -> None:
    plan = await propose(world)
    decision = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert decision.refusal is None and decision.plan is not None
    assert decision.plan.state is PlanState.APPROVED
    await world.tasks.drain()
    done = world.plan(plan.id)
    assert done.state is PlanState.SUCCEEDED
    assert [owner for _, owner in world.runner.calls] == ["agent"]
    assert world.store.names(plan.id) == [
        E.PLAN_PROPOSED,
        E.CONSENT_REQUESTED,
        E.APPROVAL_GIVEN,
        E.EXECUTION_STARTED,
        E.ACTION_SUCCEEDED,
    ]
    assert world.store.last(E.ACTION_SUCCEEDED).detail["acting"] == "agent"
    assert "Succeeded" in world.store.texts(plan.id)[-1]


async def test_a_quorum_of_two_waits_for_the_second_approver(world: World) -> None:
    plan = await propose(world, policy=with_quorum(2))
    first = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert first.plan is not None and first.plan.state is PlanState.AWAITING_CONSENT
    assert "1 more approval" in first.message
    await world.tasks.drain()
    assert world.runner.calls == []
    second = await decide_consent(world.deps, plan.id, BOB, True, plan.content_hash)
    assert second.plan is not None and second.plan.state is PlanState.APPROVED
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED


async def test_a_deny_ends_the_plan_and_nothing_runs(world: World) -> None:
    plan = await propose(world)
    decision = await decide_consent(world.deps, plan.id, BOB, False, plan.content_hash, reason="not now")
    assert decision.plan is not None and decision.plan.state is PlanState.DENIED
    await world.tasks.drain()
    assert world.runner.calls == []
    detail = world.store.last(E.PLAN_DENIED).detail
    assert detail["reason"] == "not now" and detail["source"] == "chat"  # and how long it waited and lived (metrics)
    assert set(detail) == {"reason", "source", "waited_seconds", "lifetime_seconds"}
    assert "Denied by Bob Reader: not now" in world.store.texts(plan.id)[-1]


async def test_an_approver_who_approved_may_still_deny_before_the_quorum(world: World) -> None:
    plan = await propose(world, policy=with_quorum(2))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    again = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert again.refusal is not None and again.refusal.code is RefusalCode.ALREADY_APPROVED_BY_YOU
    deny = await decide_consent(world.deps, plan.id, ALICE, False, plan.content_hash)
    assert deny.plan is not None and deny.plan.state is PlanState.DENIED


async def test_each_refusal_is_explained_audited_and_changes_nothing(world: World) -> None:
    plan = await propose(world)
    stranger = replace(BOB, object_id="99999999-0000-0000-0000-000000000009", name="Stranger")
    outsider = replace(ALICE, tenant_id="other-tenant")
    cases = [
        (CAROL, True, plan.content_hash, RefusalCode.SELF_APPROVAL),
        (stranger, True, plan.content_hash, RefusalCode.NOT_AN_APPROVER),
        (stranger, False, plan.content_hash, RefusalCode.NOT_AN_APPROVER),
        (ALICE, True, "0" * 32, RefusalCode.STALE_CARD),
        (outsider, True, plan.content_hash, RefusalCode.OTHER_TENANT),
    ]
    for person, approve, seen, code in cases:
        decision = await decide_consent(world.deps, plan.id, person, approve, seen)
        assert decision.refusal is not None and decision.refusal.code is code, (person.name, code)
        event = world.store.audit[-1]
        assert event.event == (E.APPROVAL_REFUSED if approve else E.DENIAL_REFUSED)
        assert event.detail["code"] == code.value
    assert world.plan(plan.id).state is PlanState.AWAITING_CONSENT
    assert world.plan(plan.id).version == plan.version


async def test_an_unknown_plan_and_an_expired_plan_are_refused(world: World) -> None:
    missing = await decide_consent(world.deps, "p-000000000000", ALICE, True, "x")
    assert missing.refusal is not None and missing.refusal.code is RefusalCode.NOT_FOUND
    plan = await propose(world)
    world.clock.advance(POLICY.expiry)
    late = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert late.refusal is not None and late.refusal.code is RefusalCode.EXPIRED


async def test_a_click_that_loses_the_race_is_decided_again_against_the_winner(world: World) -> None:
    """Alice and Bob approve a 2-of-2 plan at once: Bob's write lands between Alice's read and her save."""
    plan = await propose(world, policy=with_quorum(2))

    async def bob_first() -> None:
        await decide_consent(world.deps, plan.id, BOB, True, plan.content_hash)

    world.store.before_commit = bob_first
    decision = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert world.store.conflicts == 1
    assert decision.plan is not None and decision.plan.state is PlanState.APPROVED
    assert {a.approver.object_id for a in decision.plan.approvals} == {ALICE.object_id, BOB.object_id}


async def test_a_deny_that_loses_to_the_deciding_approval_is_told_it_came_too_late(world: World) -> None:
    plan = await propose(world)

    async def alice_approves() -> None:
        await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)

    world.store.before_commit = alice_approves
    decision = await decide_consent(world.deps, plan.id, BOB, False, plan.content_hash)
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.ALREADY_DECIDED
    assert "already approved by Alice Admin" in decision.message


async def test_the_first_failing_action_stops_the_plan(world: World) -> None:
    world.runner.script.append(RunResult(RunStatus.FAILED, "Conflict: another operation is in progress"))
    plan = await propose(world, targets=(WEB02, WEB02))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    done = world.plan(plan.id)
    assert done.state is PlanState.FAILED
    assert len(world.runner.calls) == 1
    assert world.store.last(E.ACTION_FAILED).detail["acting"] == "agent"


async def test_an_unexpected_runner_error_still_ends_the_plan_failed(world: World) -> None:
    world.runner.script.append(RuntimeError("bug"))
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.FAILED
    assert "RuntimeError" in (world.plan(plan.id).reason or "")


async def test_a_progress_write_racing_the_executor_does_not_lose_the_outcome(world: World) -> None:
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)

    async def racing_write() -> None:  # e.g. another instance refreshing the card's progress line
        await world.store.write(replace(world.store.plans[plan.id], progress="elsewhere"))

    world.clock.advance(timedelta(seconds=1))
    world.runner.script.append(lambda action, cred: _arm_race(world, racing_write))
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED
    assert world.store.conflicts >= 1


def _arm_race(world: World, hook: object) -> RunResult:
    world.store.before_commit = hook  # type: ignore[assignment]
    return RunResult(RunStatus.SUCCEEDED, "done", state=(("Power state", "running"),))


async def test_an_approver_removed_from_the_configuration_loses_the_right_on_a_waiting_plan(world: World) -> None:
    plan = await propose(world)  # alice and bob, as configured when it was proposed
    world.deps.approvers_now = lambda p: ApproversInForce(frozenset({BOB.object_id}))  # alice removed since
    refused = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert refused.refusal is not None and refused.refusal.code is RefusalCode.NOT_AN_APPROVER
    assert not (await world.deps.permission(world.plan(plan.id), ALICE)).awaits_you  # no buttons for her either
    assert (await decide_consent(world.deps, plan.id, BOB, True, plan.content_hash)).refusal is None


async def test_a_person_behind_the_agent_may_not_approve_its_plan(world: World) -> None:
    plan = await propose(world)
    world.deps.approvers_now = lambda p: ApproversInForce(POLICY.approvers, excluded=frozenset({ALICE.object_id}))
    refused = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert refused.refusal is not None and refused.refusal.code is RefusalCode.NOT_AN_APPROVER
    assert world.plan(plan.id).state is PlanState.AWAITING_CONSENT
