"""Expiry, start-up recovery and `pending`: plans nobody is looking after, and plans waiting for someone."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.audit import AuditEventName as E
from bot.domain.errors import ConcurrentUpdate
from bot.domain.plan import Person, PlanState
from bot.ports import RunResult, RunStatus
from bot.services.decide_consent import decide_consent
from bot.services.grant_credentials import grant_credentials
from bot.services.housekeeping import expire_due, pending_for, recover_interrupted
from bot.services.run_plan import run_plan
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, CAROL, DENIED, POLICY

from .conftest import propose, with_quorum

GROUP = "g-approvers"
DAVE = replace(BOB, object_id="d0d0d0d0-0000-0000-0000-000000000004", name="Dave Oncall")


async def test_a_plan_past_its_expiry_is_expired_and_its_thread_told(world: World) -> None:
    plan = await propose(world)
    fresh = await propose(world)
    world.clock.advance(POLICY.expiry - timedelta(seconds=1))
    assert await expire_due(world.deps) == []
    world.clock.advance(timedelta(seconds=1))
    expired = await expire_due(world.deps)
    assert {p.id for p in expired} == {plan.id, fresh.id}
    assert world.plan(plan.id).state is PlanState.EXPIRED
    assert world.store.names(plan.id)[-1] is E.PLAN_EXPIRED
    assert "Expired" in world.store.texts(plan.id)[-1]
    late = await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    assert late.refusal is not None


async def test_a_credentials_request_expires_on_its_own_deadline(world: World) -> None:
    world.runner.script.append(RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED))
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    world.clock.advance(POLICY.credentials_expiry)
    assert [p.id for p in await expire_due(world.deps)] == [plan.id]
    assert "Nobody gave credentials" in (world.plan(plan.id).reason or "")


async def test_expiry_that_loses_to_a_decision_leaves_the_plan_alone(world: World) -> None:
    plan = await propose(world)
    world.clock.advance(POLICY.expiry)

    async def decided_meanwhile() -> None:
        await world.store.write(replace(world.store.plans[plan.id], progress="moved"))

    world.store.before_commit = decided_meanwhile
    assert await expire_due(world.deps) == []
    assert world.plan(plan.id).state is PlanState.AWAITING_CONSENT


async def test_plans_left_running_by_a_dead_process_are_interrupted_never_rerun(world: World) -> None:
    approved = await propose(world)
    await decide_consent(world.deps, approved.id, ALICE, True, approved.content_hash)
    running = await propose(world)
    await decide_consent(world.deps, running.id, ALICE, True, running.content_hash)
    world.tasks.queue.clear()  # the process died before its background work ran
    await world.store.write(replace(world.store.plans[running.id], state=PlanState.EXECUTING))
    waiting = await propose(world)
    assert await recover_interrupted(world.deps) == []  # their execution leases are still held: left alone
    world.store.leases.clear()  # the dead process's leases lapse
    recovered = await recover_interrupted(world.deps)
    assert {p.id for p in recovered} == {approved.id, running.id}
    assert world.plan(waiting.id).state is PlanState.AWAITING_CONSENT
    assert world.store.names(running.id)[-1] is E.PLAN_INTERRUPTED
    assert await run_plan(world.deps, approved.id) is not None
    assert world.runner.calls == []


async def test_pending_lists_what_waits_for_the_person_now(world: World) -> None:
    second = timedelta(seconds=1)  # `pending` lists the oldest first
    consent = await propose(world, policy=with_quorum(2))
    world.clock.advance(second)
    approved_by_alice = await propose(world, policy=with_quorum(2))
    world.clock.advance(second)
    await decide_consent(world.deps, approved_by_alice.id, ALICE, True, approved_by_alice.content_hash)
    world.runner.script.append(RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED))
    credentials = await propose(world)
    world.clock.advance(second)
    await decide_consent(world.deps, credentials.id, ALICE, True, credentials.content_hash)
    await world.tasks.drain()
    assert world.plan(credentials.id).state is PlanState.AWAITING_CREDENTIALS
    mine = await propose(world, requested_by=ALICE)
    world.clock.advance(timedelta(minutes=1))
    alice = [p.id for p in await pending_for(world.deps, ALICE)]
    # waiting for her: a decision, and the credentials of the plan she approved; not her own request,
    # nor the plan she already approved (it waits for someone else)
    assert alice == [consent.id, credentials.id]
    bob = [p.id for p in await pending_for(world.deps, BOB)]
    assert bob == [consent.id, approved_by_alice.id, credentials.id, mine.id]
    assert await pending_for(world.deps, CAROL) == []
    world.clock.advance(POLICY.expiry)
    assert await pending_for(world.deps, BOB) == []  # past every deadline: nothing can be done any more


async def test_pending_includes_approver_group_members(world: World) -> None:
    world.directory.members[GROUP] = {DAVE.object_id}
    plan = await propose(world, policy=replace(POLICY, approvers=frozenset(), approver_group=GROUP))
    assert [p.id for p in await pending_for(world.deps, DAVE)] == [plan.id]
    assert await pending_for(world.deps, BOB) == []
    assert (DAVE.object_id, GROUP, False) in world.directory.asked  # a view: the cached answer will do


async def test_pending_lists_a_group_members_credentials_to_lend(world: World) -> None:
    world.directory.members[GROUP] = {DAVE.object_id, ALICE.object_id}
    world.runner.script.append(RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED))
    plan = await propose(world, policy=replace(POLICY, approvers=frozenset(), approver_group=GROUP))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.AWAITING_CREDENTIALS
    # both group members may lend their rights, the one who approved too; Bob is not in the group
    assert [p.id for p in await pending_for(world.deps, DAVE)] == [plan.id]
    assert [p.id for p in await pending_for(world.deps, ALICE)] == [plan.id]
    assert await pending_for(world.deps, BOB) == []


async def test_pending_lists_a_credentials_request_reopened_after_an_approvers_rights_were_refused(world: World) -> None:
    """CREDENTIALS_ATTEMPTS: Azure refused Bob's rights too, one attempt is left: the other approvers are asked again."""
    refused = RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED)
    world.runner.script.extend([refused, refused])
    plan = await propose(world, policy=replace(POLICY, credentials_attempts=2))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    await grant_credentials(world.deps, plan.id, BOB, world.plan(plan.id).content_hash, "sso-token", _verified)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.AWAITING_CREDENTIALS
    assert [p.id for p in await pending_for(world.deps, ALICE)] == [plan.id]
    assert await pending_for(world.deps, CAROL) == []  # asked for it, not an approver
    world.clock.advance(POLICY.credentials_expiry)
    assert await pending_for(world.deps, ALICE) == []  # the reopened request keeps its deadline


async def _verified(token: str, person: Person) -> None:
    """Teams' SSO token accepted (the fakes have no Entra)."""


async def test_pending_leaves_out_group_plans_while_the_directory_is_down(world: World) -> None:
    world.directory.members[GROUP] = {DAVE.object_id}
    await propose(world, policy=replace(POLICY, approvers=frozenset(), approver_group=GROUP))
    world.directory.down = True
    assert await pending_for(world.deps, DAVE) == []
    # the card still shows the buttons, so the click (checked fresh) says why it cannot be decided
    plan = next(iter(world.store.plans.values()))
    assert await world.deps.may_see_buttons(plan, DAVE)


async def test_the_card_shows_buttons_exactly_to_the_people_pending_lists(world: World) -> None:
    plan = await propose(world, policy=with_quorum(2))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    current = world.plan(plan.id)
    for person in (ALICE, BOB, CAROL, DAVE):
        listed = current.id in {p.id for p in await pending_for(world.deps, person)}
        assert await world.deps.may_see_buttons(current, person) is listed, person.name
    assert await world.deps.may_see_buttons(current, BOB)


async def test_the_store_fake_keeps_the_contract_of_compare_and_set_and_units_of_work(world: World) -> None:
    """A save over an old version is a ConcurrentUpdate; a unit of work that fails leaves nothing behind."""
    plan = await propose(world)
    await world.store.write(replace(plan, progress="a"))
    with pytest.raises(ConcurrentUpdate):
        async with world.store.unit_of_work() as uow:
            uow.save(replace(plan, progress="b"), plan.version)
    with pytest.raises(RuntimeError):
        async with world.store.unit_of_work() as uow:
            current = world.store.plans[plan.id]
            uow.save(replace(current, progress="c"), current.version)
            raise RuntimeError("the second write failed")
    assert world.plan(plan.id).progress == "a"
    assert world.store.conflicts == 1
