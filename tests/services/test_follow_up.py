"""Nobody forgets a plan (issue 26): reminders, escalation and the near-expiry warning, over fakes, on the fake clock.

Each step is a transition of the plan: once, whoever sweeps (two instances racing, a restart), never after a decision,
never for a plan that does not wait.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.audit import AuditEventName as E
from bot.domain.callbacks import Callback
from bot.domain.follow_up import Escalation, FollowUp, RequesterNotice
from bot.domain.nudges import Step
from bot.domain.plan import Mode, Person, Plan, PlanState, Source, Thread, ThreadKind
from bot.domain.plan_view import EVENT_TYPE_PREFIX
from bot.ports import CARD_LINK, MessageKind, OutboxMessage, RunResult, RunStatus, UnitOfWork
from bot.services.agent_callbacks import AgentCallbacks
from bot.services.decide_consent import decide_consent
from bot.services.follow_up import FollowUps, follow_up_due
from bot.services.grant_credentials import grant_credentials
from bot.services.housekeeping import expire_due
from bot.services.propose_plan import PlanRequest, propose_plan
from tests.fakes import World
from tests.unit.factories import ALICE, BOB, CAROL, DENIED, POLICY

from .conftest import THREAD, propose, with_quorum

DAVE = Person("d0d0d0d0-0000-0000-0000-000000000004", "Dave Oncall", "t", "29:dave")
ERIN = Person("e1e1e1e1-0000-0000-0000-000000000005", "Erin Lead", "t", "29:erin")
LEADS = "9a9a9a9a-0000-0000-0000-00000000000a"  # the escalation group: erin
CHANNEL = Thread("https://smba.example/", "19:escalations@thread.tacv2", "t", ThreadKind.CHANNEL)
REMIND = timedelta(minutes=10)
ESCALATE = timedelta(minutes=20)


class FakeNotes:
    """PrivateNotes: each person's 1:1 chat ("a:<object id>"), group members as the directory would list them."""

    def __init__(self, groups: dict[str, list[str]] | None = None) -> None:
        self.groups = groups or {}

    async def personal_threads(
        self, people: frozenset[str], groups: tuple[str, ...], leave_out: frozenset[str], tenant_id: str, service_url: str
    ) -> list[tuple[str, Thread]]:
        wanted = sorted(people) + [m for g in groups for m in self.groups.get(g, [])]
        chosen = list(dict.fromkeys(o for o in wanted if o not in leave_out))
        return [(oid, Thread(service_url, f"a:{oid}", tenant_id, ThreadKind.PERSONAL)) for oid in chosen]


@pytest.fixture
def parts() -> FollowUps:
    return FollowUps(FakeNotes({LEADS: [ERIN.object_id]}), CHANNEL)


@pytest.fixture(autouse=True)
def schedule(world: World) -> None:
    """What the configuration gives every new plan: a reminder at 10 minutes, escalation to dave at 20."""
    world.deps.follow_up = FollowUp(REMIND, ESCALATE, Escalation(frozenset({DAVE.object_id})))


def notes_to(world: World, plan_id: str) -> dict[str, list[str]]:
    """Conversation id -> texts of the notes about `plan_id` waiting in the outbox."""
    found: dict[str, list[str]] = {}
    for m in world.store.messages():
        if m.kind is MessageKind.NOTE and m.plan_id == plan_id and m.thread is not None:
            found.setdefault(m.thread.conversation_id, []).append(m.text or "")
    return found


def events(world: World, plan_id: str, name: E) -> list[dict[str, str]]:
    return [e.detail for e in world.store.audit if e.plan_id == plan_id and e.event == name]


async def test_approvers_are_reminded_once_privately_with_the_link_and_the_card_says_so(world: World, parts: FollowUps) -> None:
    plan = await propose(world)
    world.clock.advance(REMIND - timedelta(seconds=1))
    assert await follow_up_due(world.deps, parts) == []
    world.clock.advance(timedelta(seconds=1))
    [taken] = await follow_up_due(world.deps, parts)
    assert taken.step is Step.REMIND and set(taken.told) == {ALICE.object_id, BOB.object_id}  # never carol, who asked
    notes = notes_to(world, plan.id)
    assert set(notes) == {f"a:{ALICE.object_id}", f"a:{BOB.object_id}"}
    text = notes[f"a:{ALICE.object_id}"][0]
    assert CARD_LINK in text and "Reminder" in text and "waited 10 min" in text and "20 min left" in text
    stored = world.plan(plan.id)
    assert stored.state is PlanState.AWAITING_CONSENT and stored.follow_up.reminded_at == world.clock.now()
    assert events(world, plan.id, E.REMINDED) == [{"source": "chat", "to": ",".join(sorted([ALICE.object_id, BOB.object_id]))}]
    update = [m for m in world.store.messages() if m.kind is MessageKind.UPDATE_CARD and m.plan_version == stored.version]
    assert update  # the card now shows that approvers were reminded
    world.clock.advance(timedelta(minutes=5))
    assert [t.step for t in await follow_up_due(world.deps, parts)] == []  # once
    assert len(events(world, plan.id, E.REMINDED)) == 1


async def test_who_already_approved_is_not_reminded(world: World, parts: FollowUps) -> None:
    plan = await propose(world, policy=with_quorum(2))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    world.clock.advance(REMIND)
    [taken] = await follow_up_due(world.deps, parts)
    assert taken.told == (BOB.object_id,)


async def test_nothing_is_sent_once_the_plan_is_decided(world: World, parts: FollowUps) -> None:
    approved, denied = await propose(world), await propose(world)
    await decide_consent(world.deps, approved.id, ALICE, True, approved.content_hash)
    await world.tasks.drain()
    await decide_consent(world.deps, denied.id, BOB, False, denied.content_hash)
    world.clock.advance(ESCALATE + timedelta(minutes=5))
    assert await follow_up_due(world.deps, parts) == []
    for plan in (approved, denied):
        assert notes_to(world, plan.id) == {} and events(world, plan.id, E.REMINDED) == []


async def test_a_decision_that_lands_just_before_the_reminder_commits_stops_it(world: World, parts: FollowUps) -> None:
    plan = await propose(world)
    world.clock.advance(REMIND)

    async def approved_meanwhile() -> None:
        await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)

    world.store.before_commit = approved_meanwhile
    assert await follow_up_due(world.deps, parts) == []
    assert world.plan(plan.id).state is PlanState.APPROVED
    assert notes_to(world, plan.id) == {} and events(world, plan.id, E.REMINDED) == []
    assert await follow_up_due(world.deps, parts) == []  # the next sweep finds it decided


async def test_two_instances_sweeping_at_once_remind_once(world: World, parts: FollowUps) -> None:
    """The other instance's sweep commits first: this one's compare-and-set fails and writes nothing."""
    plan = await propose(world)
    world.clock.advance(REMIND)
    other: list[object] = []

    async def the_other_instance_sweeps() -> None:
        other.extend(await follow_up_due(world.deps, parts))

    world.store.before_commit = the_other_instance_sweeps
    assert await follow_up_due(world.deps, parts) == []
    assert len(other) == 1 and len(events(world, plan.id, E.REMINDED)) == 1
    assert len(notes_to(world, plan.id)[f"a:{ALICE.object_id}"]) == 1
    assert await follow_up_due(world.deps, parts) == []  # a restart reads the reminder from the store: not again


async def test_an_autonomous_plan_that_never_waits_gets_nothing(world: World, parts: FollowUps) -> None:
    plan = await propose(world, mode=Mode.AUTONOMOUS, source=Source.INCIDENT)
    assert plan.state is PlanState.APPROVED
    await world.tasks.drain()
    world.clock.advance(ESCALATE * 3)
    assert await follow_up_due(world.deps, parts) == []
    assert world.plan(plan.id).state is PlanState.SUCCEEDED and notes_to(world, plan.id) == {}


async def test_escalation_widens_the_approvers_once_and_tells_only_the_escalation_approvers(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = replace(world.deps.follow_up, escalate_to=Escalation(frozenset({DAVE.object_id}), LEADS))
    plan = await propose(world, policy=with_quorum(2))
    world.clock.advance(REMIND)
    await follow_up_due(world.deps, parts)
    reminded = notes_to(world, plan.id)
    world.clock.advance(ESCALATE - REMIND)
    [taken] = await follow_up_due(world.deps, parts)
    assert taken.step is Step.ESCALATE and set(taken.told) == {DAVE.object_id, ERIN.object_id}  # erin: in the group
    notes = notes_to(world, plan.id)
    assert {k: len(v) for k, v in notes.items()} == {k: 1 for k in reminded} | {
        f"a:{DAVE.object_id}": 1,
        f"a:{ERIN.object_id}": 1,
        CHANNEL.conversation_id: 1,
    }  # the first approvers are not messaged again
    assert "Escalated to you" in notes[f"a:{DAVE.object_id}"][0] and CARD_LINK in notes[f"a:{DAVE.object_id}"][0]
    assert "escalated to 1 escalation approver and the escalation group" in notes[CHANNEL.conversation_id][0]
    [detail] = events(world, plan.id, E.ESCALATED)
    assert detail["approvers"] == DAVE.object_id and detail["group"] == LEADS and detail["channel"] == CHANNEL.conversation_id
    world.clock.advance(timedelta(minutes=5))
    assert [t.step for t in await follow_up_due(world.deps, parts)] != [Step.ESCALATE]  # once
    # dave may approve now; the quorum stays two, and the expiry stays where it was
    stored = world.plan(plan.id)
    assert stored.policy == plan.policy and stored.expires_at == plan.expires_at
    first = await decide_consent(world.deps, plan.id, DAVE, True, plan.content_hash)
    assert first.refusal is None and world.plan(plan.id).state is PlanState.AWAITING_CONSENT
    world.directory.members[LEADS] = {ERIN.object_id}
    second = await decide_consent(world.deps, plan.id, ERIN, True, plan.content_hash)
    assert second.refusal is None and world.plan(plan.id).state is PlanState.APPROVED


async def test_before_escalation_the_escalation_approvers_cannot_approve(world: World, parts: FollowUps) -> None:
    plan = await propose(world)
    early = await decide_consent(world.deps, plan.id, DAVE, True, plan.content_hash)
    assert early.refusal is not None and world.plan(plan.id).state is PlanState.AWAITING_CONSENT


async def test_escalation_never_lets_the_requester_approve_their_own_plan(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = replace(world.deps.follow_up, escalate_to=Escalation(frozenset({CAROL.object_id})))
    plan = await propose(world)  # carol asks, and carol is an escalation approver
    world.clock.advance(ESCALATE)
    taken = await follow_up_due(world.deps, parts)
    assert [t.step for t in taken] == [Step.REMIND, Step.ESCALATE] and taken[1].told == ()  # nobody to tell: not her
    refused = await decide_consent(world.deps, plan.id, CAROL, True, plan.content_hash)
    assert refused.refusal is not None and "someone else" in refused.message


async def test_a_plan_waiting_for_credentials_reminds_again_but_not_who_lent_rights_already(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = FollowUp(REMIND)
    world.runner.script.extend([RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED)] * 2)
    two_tries = replace(POLICY, credentials_attempts=2, credentials_expiry=timedelta(minutes=30))
    proposed = await propose(world, policy=two_tries)
    world.clock.advance(REMIND)
    assert [t.step for t in await follow_up_due(world.deps, parts)] == [Step.REMIND]
    await decide_consent(world.deps, proposed.id, ALICE, True, proposed.content_hash)
    await world.tasks.drain()
    assert world.plan(proposed.id).state is PlanState.AWAITING_CREDENTIALS
    await grant_credentials(world.deps, proposed.id, BOB, proposed.content_hash, "sso-token-bob", lambda token, who: _ok())
    await world.tasks.drain()  # Azure refuses bob's rights too; alice may still try hers
    assert world.plan(proposed.id).state is PlanState.AWAITING_CREDENTIALS
    world.clock.advance(REMIND - timedelta(seconds=1))
    assert await follow_up_due(world.deps, parts) == []  # ten minutes of this wait, not of the plan's life
    world.clock.advance(timedelta(seconds=1))
    [taken] = await follow_up_due(world.deps, parts)
    assert taken.told == (ALICE.object_id,)  # bob already lent his: he is not asked again
    assert "needs an approver's credentials" in notes_to(world, proposed.id)[f"a:{ALICE.object_id}"][-1]


async def _ok() -> None:
    return None


async def test_the_requester_is_warned_once_before_the_plan_expires_and_told_when_it_did(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = FollowUp()
    plan = await propose(world)  # expires after 30 minutes: warned 5 minutes before
    world.clock.advance(POLICY.expiry - timedelta(minutes=5, seconds=1))
    assert await follow_up_due(world.deps, parts) == []
    world.clock.advance(timedelta(seconds=1))
    assert [t.step for t in await follow_up_due(world.deps, parts)] == [Step.WARN]
    [warning] = [t for t in world.store.texts(plan.id) if "expires soon" in t]
    assert "5 min left" in warning and "0 of the 1 approval(s)" in warning and "Propose again" in warning
    assert events(world, plan.id, E.EXPIRY_WARNED) == [{"source": "chat", "to": CAROL.object_id}]
    world.clock.advance(timedelta(minutes=4))
    assert await follow_up_due(world.deps, parts) == []  # once
    world.clock.advance(timedelta(minutes=1))
    await expire_due(world.deps)
    assert "Propose again" in world.store.texts(plan.id)[-1]  # the thread, the requester's, is told it expired


async def test_a_requester_who_asked_elsewhere_is_warned_there_with_the_link(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = FollowUp()
    carol_chat = Thread("https://smba.example/", "a:carol", "t", ThreadKind.PERSONAL)
    request = PlanRequest("Restart VM web-01", "r", (), CAROL, POLICY, THREAD, asked_in=carol_chat)
    plan = await propose_plan(world.deps, replace(request, actions=(await propose(world)).actions))
    world.clock.advance(POLICY.expiry - timedelta(minutes=5))
    await follow_up_due(world.deps, parts)
    [warning] = notes_to(world, plan.id)["a:carol"]
    assert CARD_LINK in warning and "expires soon" in warning


class Callbacks:
    """An agent's callback (issue 24 builds it): here, the notices it was given."""

    def __init__(self) -> None:
        self.told: list[tuple[str, RequesterNotice]] = []

    def stage(self, uow: UnitOfWork, plan: Plan, notice: RequesterNotice) -> bool:
        if plan.source is not Source.API:
            return False
        self.told.append((plan.id, notice))
        uow.send(OutboxMessage(MessageKind.TEXT, "callback", plan.id, plan.version, text=notice.value))
        return True


async def test_an_agent_is_told_through_its_callback_instead_of_the_chat(world: World, parts: FollowUps) -> None:
    world.deps.follow_up = FollowUp()
    world.deps.callbacks = hook = Callbacks()
    plan = await propose(world, source=Source.API)
    world.clock.advance(POLICY.expiry - timedelta(minutes=5))
    await follow_up_due(world.deps, parts)
    world.clock.advance(timedelta(minutes=5))
    await expire_due(world.deps)
    assert hook.told == [(plan.id, RequesterNotice.ABOUT_TO_EXPIRE), (plan.id, RequesterNotice.EXPIRED)]
    assert not [t for t in world.store.texts(plan.id) if "expires soon" in t]


async def test_an_incident_response_plan_sets_its_own_schedule(world: World, parts: FollowUps) -> None:
    own = FollowUp(timedelta(minutes=2), timedelta(minutes=3), Escalation(frozenset({ERIN.object_id})))
    request = PlanRequest("Restart VM web-01", "r", (await propose(world)).actions, CAROL, POLICY, THREAD, follow_up=own)
    plan = await propose_plan(world.deps, replace(request, source=Source.INCIDENT))
    world.clock.advance(timedelta(minutes=3))
    taken = await follow_up_due(world.deps, parts)
    assert [(t.plan.id, t.step) for t in taken] == [(plan.id, Step.REMIND), (plan.id, Step.ESCALATE)]
    assert taken[1].told == (ERIN.object_id,)


async def test_a_reminder_landing_during_a_grant_does_not_turn_the_grant_away(world: World, parts: FollowUps) -> None:
    """The reminder moves the plan's version, not its state: the grant is tried again over it, and runs."""
    world.deps.follow_up = FollowUp(REMIND)
    world.runner.script.append(RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED))
    plan = await propose(world)
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    world.clock.advance(REMIND)

    async def reminded_meanwhile() -> None:
        assert [t.step for t in await follow_up_due(world.deps, parts)] == [Step.REMIND]

    world.store.before_commit = reminded_meanwhile
    granted = await grant_credentials(world.deps, plan.id, BOB, plan.content_hash, "sso-token-bob", lambda token, who: _ok())
    assert granted.refusal is None and "on behalf of Bob Reader" in granted.message
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED and world.store.conflicts == 1


async def test_a_requester_who_asked_elsewhere_is_told_there_when_the_credentials_request_expired(world: World) -> None:
    world.runner.script.append(RunResult(RunStatus.REFUSED, "refused", access_denied=DENIED))
    carol_chat = Thread("https://smba.example/", "a:carol", "t", ThreadKind.PERSONAL)
    actions = (await propose(world)).actions
    plan = await propose_plan(world.deps, PlanRequest("Restart VM web-01", "r", actions, CAROL, POLICY, THREAD, asked_in=carol_chat))
    await decide_consent(world.deps, plan.id, ALICE, True, plan.content_hash)
    await world.tasks.drain()
    world.clock.advance(POLICY.credentials_expiry)
    await expire_due(world.deps)
    # notes about the plan (kept with it: one transaction on every store), to where the requester asked
    told = [m.text or "" for m in world.store.messages() if m.thread == carol_chat and m.kind is MessageKind.NOTE]
    assert "was approved by Alice Admin" in told[0]  # when it was approved
    assert "no approver lent their rights before the request expired" in told[-1] and "Propose again" in told[-1]


async def test_an_agent_with_a_callback_hears_it_is_about_to_expire_as_a_signed_event_not_in_the_chat(
    world: World, parts: FollowUps
) -> None:
    """The real hook (services/agent_callbacks.py): an `expiring` event on the plan's callback, then the expiry's own
    state event once; an agent without a callback is told in the chat as a person would be."""
    world.deps.follow_up = FollowUp()
    world.deps.callbacks = AgentCallbacks("https://bot.example/api/plans", world.clock)
    hooked = await propose(world, source=Source.API)
    hooked = world.store.plans[hooked.id] = replace(world.store.plans[hooked.id], callback=Callback("https://agent.example/hooks/p", "app"))
    plain = await propose(world, source=Source.API)
    world.clock.advance(POLICY.expiry - timedelta(minutes=5))
    await follow_up_due(world.deps, parts)
    world.clock.advance(timedelta(minutes=5))
    await expire_due(world.deps)
    types = [m.payload["event"]["type"] for m in world.store.messages() if m.kind is MessageKind.CALLBACK and m.plan_id == hooked.id]
    assert types == [f"{EVENT_TYPE_PREFIX}.plan.expiring", f"{EVENT_TYPE_PREFIX}.plan.expired"]
    assert not [t for t in world.store.texts(hooked.id) if "expires soon" in t]
    assert [t for t in world.store.texts(plain.id) if "expires soon" in t]
