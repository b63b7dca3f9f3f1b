"""Lending rights after a 403: every grant, cancel and release path, over fakes."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.audit import AuditEventName as E
from bot.domain.errors import CredentialProblem, RefusalCode
from bot.domain.plan import Person, Plan, PlanState
from bot.ports import RunResult, RunStatus
from bot.services.decide_consent import decide_consent
from bot.services.grant_credentials import cancel_credentials, grant_credentials
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, DENIED, POLICY

from .conftest import WEB02, propose

REFUSED = RunResult(RunStatus.REFUSED, "Azure refused the agent identity", access_denied=DENIED)
VERIFIED: list[tuple[str, Person]] = []


async def verify(token: str, person: Person) -> None:
    VERIFIED.append((token, person))


async def reject(token: str, person: Person) -> None:
    raise CredentialProblem(CredentialProblem.REJECTED, "Your sign-in token was refused: wrong audience. Nothing was done.")


async def refused_plan(world: World, targets: int = 1) -> Plan:
    """A plan approved by Alice whose first action Azure refused to the agent identity."""
    world.runner.script.append(REFUSED)
    plan = await propose(world, targets=(WEB02,) * targets)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    refused = world.plan(plan.id)
    assert refused.state is PlanState.AWAITING_CREDENTIALS
    return refused


async def test_the_agents_403_asks_the_thread_for_credentials(world: World) -> None:
    plan = await refused_plan(world)
    assert world.store.last(E.AGENT_REFUSED).detail["acting"] == "agent"
    assert "**Use my credentials** to let the agent act with their rights" in world.store.texts(plan.id)[-1]
    assert plan.expires_at == world.clock.now() + POLICY.credentials_expiry


async def test_without_a_token_teams_is_asked_for_one_and_nothing_changes(world: World) -> None:
    plan = await refused_plan(world)
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, None, verify)
    assert decision.needs_sign_in
    assert world.plan(plan.id).version == plan.version
    assert world.broker.issued == []


async def test_a_grant_runs_the_rest_on_behalf_of_the_user_then_releases_the_credential(world: World) -> None:
    plan = await refused_plan(world, targets=2)
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "sso-token", verify)
    assert decision.refusal is None and decision.plan is not None
    assert decision.plan.state is PlanState.EXECUTING_AS_USER
    assert not world.broker.issued[0].closed  # held by the background run
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED
    assert [owner for _, owner in world.runner.calls] == ["agent", "sso-token", "sso-token"]
    assert world.broker.issued[0].closed
    assert world.store.names(plan.id)[-4:] == [E.CREDENTIALS_USED, E.ACTION_SUCCEEDED, E.ACTION_SUCCEEDED, E.CREDENTIALS_RELEASED]
    assert world.store.last(E.ACTION_SUCCEEDED).detail["acting"] == "user"
    detail = world.store.last(E.CREDENTIALS_USED).detail
    assert {k: detail[k] for k in ("identity", "acting", "source")} == {
        "identity": "on behalf of Bob Reader",
        "acting": "user",
        "source": "chat",
    }
    assert set(detail) == {"identity", "acting", "source", "waited_seconds"}  # how long the request waited (metrics)


async def test_the_user_refused_too_ends_the_plan_and_still_releases(world: World) -> None:
    plan = await refused_plan(world)
    world.runner.script.append(replace(REFUSED, detail="Azure refused Bob"))
    await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "sso-token", verify)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.USER_NOT_AUTHORIZED
    assert world.broker.issued[0].closed
    assert world.store.names(plan.id)[-2:] == [E.USER_REFUSED, E.CREDENTIALS_RELEASED]


async def test_a_run_that_crashes_still_releases_the_credential(world: World) -> None:
    plan = await refused_plan(world)
    world.store.fail_on = E.ACTION_SUCCEEDED  # the store fails while the outcome is written
    await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "sso-token", verify)
    await world.tasks.drain()
    assert world.broker.issued[0].closed
    assert world.store.names(plan.id)[-1] is E.CREDENTIALS_RELEASED
    assert [name for name, _ in world.tasks.failed] == [f"run {plan.id} as user"]


async def test_a_token_that_fails_validation_is_a_bad_request_and_nothing_is_lent(world: World) -> None:
    plan = await refused_plan(world)
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "forged", reject)
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.BAD_REQUEST
    assert world.broker.issued == []
    assert world.store.last(E.CREDENTIALS_REFUSED).detail["code"] == "rejected"
    assert world.plan(plan.id).state is PlanState.AWAITING_CREDENTIALS


async def test_an_expired_assertion_asks_teams_to_retry_sso_and_drops_the_credential(world: World) -> None:
    plan = await refused_plan(world)
    world.broker.problem = CredentialProblem(CredentialProblem.EXPIRED, "Your sign-in expired. Click again.")
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "old", verify)
    assert decision.retry_sso
    assert world.broker.issued[0].closed
    assert world.store.last(E.CREDENTIALS_REFUSED).detail["code"] == "expired"
    assert world.plan(plan.id).state is PlanState.AWAITING_CREDENTIALS


async def test_consent_missing_is_explained_and_the_plan_still_waits(world: World) -> None:
    plan = await refused_plan(world)
    world.broker.problem = CredentialProblem(CredentialProblem.CONSENT, "An administrator must consent first.")
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "t", verify)
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.WRONG_STATE
    assert not decision.retry_sso and decision.message == "An administrator must consent first."
    assert world.plan(plan.id).state is PlanState.AWAITING_CREDENTIALS


async def test_a_grant_that_loses_to_a_cancel_releases_at_once(world: World) -> None:
    plan = await refused_plan(world)

    async def alice_cancels() -> None:
        await cancel_credentials(world.deps, plan.id, ALICE, plan.content_hash)

    world.store.before_commit = alice_cancels
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "sso-token", verify)
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.ALREADY_DECIDED
    assert world.broker.issued[0].closed
    assert world.store.last(E.CREDENTIALS_RELEASED).detail == {"reason": "another grant or cancel came first"}
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.CREDENTIALS_DENIED
    assert len(world.runner.calls) == 1  # only the agent's refused attempt


async def test_cancel_ends_the_plan_and_tells_the_thread(world: World) -> None:
    plan = await refused_plan(world)
    decision = await cancel_credentials(world.deps, plan.id, BOB, plan.content_hash)
    assert decision.plan is not None and decision.plan.state is PlanState.CREDENTIALS_DENIED
    await world.tasks.drain()
    assert world.store.names(plan.id)[-1] is E.CREDENTIALS_DECLINED
    assert "Credentials declined" in world.store.texts(plan.id)[-1]


async def test_cancel_retries_after_a_concurrent_progress_write(world: World) -> None:
    plan = await refused_plan(world)

    async def touch() -> None:
        await world.store.write(replace(world.store.plans[plan.id], progress="card refreshed"))

    world.store.before_commit = touch
    decision = await cancel_credentials(world.deps, plan.id, BOB, plan.content_hash)
    assert world.store.conflicts == 1
    assert decision.plan is not None and decision.plan.state is PlanState.CREDENTIALS_DENIED


async def test_grant_and_cancel_refusals(world: World) -> None:
    plan = await refused_plan(world)
    stranger = replace(BOB, object_id="99999999-0000-0000-0000-000000000009")
    for answer in (
        grant_credentials(world.deps, plan.id, stranger, plan.content_hash, "t", verify),
        cancel_credentials(world.deps, plan.id, stranger, plan.content_hash),
    ):
        decision = await answer
        assert decision.refusal is not None and decision.refusal.code is RefusalCode.NOT_AN_APPROVER
        assert "Only the plan's approvers" in decision.message
    stale = await grant_credentials(world.deps, plan.id, BOB, "0" * 32, "t", verify)
    assert stale.refusal is not None and stale.refusal.code is RefusalCode.STALE_CARD
    missing = await cancel_credentials(world.deps, "p-000000000000", BOB, "x")
    assert missing.refusal is not None and missing.refusal.code is RefusalCode.NOT_FOUND
    world.clock.advance(POLICY.credentials_expiry)
    late = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "t", verify)
    assert late.refusal is not None and late.refusal.code is RefusalCode.EXPIRED
    assert world.broker.issued == []
    assert world.store.names(plan.id).count(E.CREDENTIALS_REFUSED) == 4  # and the unknown plan's, under no plan
    assert world.store.names(None).count(E.CREDENTIALS_REFUSED) == 5


async def test_credentials_are_not_asked_of_a_plan_waiting_for_consent(world: World) -> None:
    plan = await propose(world)
    decision = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "t", verify)
    assert decision.refusal is not None and decision.refusal.code is RefusalCode.ALREADY_DECIDED
