"""Azure Monitor alerts: act once per alert and condition; autonomy only for confirmed, secure alerts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain.audit import AuditEventName as E
from bot.domain.consent import ConsentPolicy
from bot.domain.incident import Alert, AlertAuth, AlertCheck, AlertStatus, ResponsePlan, parse_response_plans
from bot.domain.operations import OperationSpec, by_key
from bot.domain.plan import Mode, Operation, PlanState, Source
from bot.domain.scope import Scope
from bot.ports import MessageKind, pending_plan
from bot.services.handle_alert import handle_alert
from tests.fakes import World
from tests.unit.factories import ALICE, SUB, WEB01

ALERT_ID = f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/11111111-2222-3333-4444-555555555555"


def alert(condition: str = "Fired", targets: tuple[str, ...] = (WEB01.id,)) -> Alert:
    return Alert(ALERT_ID, "cpu-high", "Sev1", condition, targets, "2026-11-24T09:00:00Z", "CPU above 95%", "Metric")


def response_plan(mode: Mode = Mode.REVIEW, operation: OperationSpec = Operation.RESTART) -> ResponsePlan:
    return ResponsePlan(
        name="restart-on-cpu",
        rules=("cpu-*",),
        severities=frozenset(),
        operation=operation,
        mode=mode,
        channel_id="19:ops@thread.tacv2",
        service_url="https://smba.example/",
        tenant_id="t",
        responders=frozenset({ALICE.object_id}),
        scopes=(Scope(SUB),),
    )


def card(a: Alert, rp: ResponsePlan, why: str | None) -> dict[str, object]:
    return {"title": f"{a.rule}: {rp.name} ({rp.mode.value})", "why": why or ""}


async def test_a_fired_alert_opens_a_thread_and_proposes_for_review(world: World) -> None:
    outcome = await handle_alert(
        world.deps, alert(), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK, inbox_key="delivery-1"
    )
    assert outcome.matched == ("restart-on-cpu",)
    (plan,) = outcome.plans
    assert plan.state is PlanState.AWAITING_CONSENT and plan.source is Source.INCIDENT
    assert plan.policy.approvers == frozenset({ALICE.object_id})
    assert [m.kind for m in world.store.messages()] == [MessageKind.OPEN_THREAD, MessageKind.POST_CARD]
    assert world.store.inbox["delivery-1"]["plans"] == [{"id": plan.id, "state": "awaiting_consent", "mode": "review"}]


async def test_an_autonomous_plan_acts_at_once_on_a_confirmed_secure_alert(world: World) -> None:
    world.alerts.alerts[ALERT_ID] = AlertCheck(AlertStatus.FIRED, target=WEB01.id)
    outcome = await handle_alert(world.deps, alert(), [response_plan(Mode.AUTONOMOUS)], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    (plan,) = outcome.plans
    assert plan.state is PlanState.APPROVED and outcome.withheld == ()
    assert E.CONSENT_IMPLICIT in world.store.names(plan.id)
    await world.tasks.drain()
    assert world.plan(plan.id).state is PlanState.SUCCEEDED


async def test_autonomy_is_withheld_for_a_shared_secret_or_an_unconfirmed_alert(world: World) -> None:
    shared = await handle_alert(world.deps, alert(), [response_plan(Mode.AUTONOMOUS)], ConsentPolicy(), card, AlertAuth.SHARED_SECRET)
    (plan,) = shared.plans
    assert plan.state is PlanState.AWAITING_CONSENT and plan.mode is Mode.REVIEW
    assert world.store.last(E.AUTONOMY_WITHHELD).detail["authentication"] == "shared_secret"
    forged = await handle_alert(world.deps, alert(), [response_plan(Mode.AUTONOMOUS)], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    (plan,) = forged.plans  # Azure Monitor does not know the alert id
    assert plan.state is PlanState.AWAITING_CONSENT and forged.withheld
    await world.tasks.drain()
    assert world.runner.calls == []


async def test_a_resolved_alert_tells_the_threads_of_its_plans(world: World) -> None:
    await handle_alert(world.deps, alert(), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    resolved = await handle_alert(world.deps, alert("Resolved"), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    (plan,) = world.store.plans.values()
    assert resolved.plans == () and resolved.expired == (plan,)
    assert plan.state is PlanState.EXPIRED  # nothing will run for an alert that is over
    assert any("resolved" in t for t in world.store.texts(plan.id))


async def test_an_alert_without_targets_in_scope_proposes_nothing_and_says_why(world: World) -> None:
    elsewhere = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x"
    outcome = await handle_alert(
        world.deps, alert(targets=(elsewhere,)), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK
    )
    assert outcome.plans == () and world.store.plans == {}
    said = [m.text or "" for m in world.store.messages() if m.kind is MessageKind.TEXT]
    assert "outside its scopes" in said[0] and "nothing to act on" in said[1]


async def test_an_alert_on_a_web_app_restarts_that_web_app(world: World) -> None:
    """A response plan names any catalog operation; the alert's targets of that type are the ones acted on."""
    shop = f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Web/sites/shop"
    world.runner.put(shop, {"id": shop, "name": "shop", "properties": {"state": "Running"}})
    rp = response_plan(operation=by_key("Microsoft.Web/sites/restart"))
    outcome = await handle_alert(world.deps, alert(targets=(shop, WEB01.id)), [rp], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    (plan,) = outcome.plans
    (action,) = plan.actions
    assert action.resource.id == shop and action.request.path == f"{shop}/restart"
    assert plan.title == "Restart web app shop" and action.before == (("State", "Running"),)


def test_response_plans_name_catalog_operations_with_their_parameters() -> None:
    data = {
        "responsePlans": [
            {
                "name": "scale-on-load",
                "match": {"alertRules": ["cpu-*"]},
                "operation": "Microsoft.Web/serverfarms/scale",
                "parameters": {"capacity": 6},
                "channel": {"id": "19:ops@thread.tacv2"},
                "responders": [ALICE.object_id],
                "scopes": [f"/subscriptions/{SUB}"],
            }
        ]
    }
    (rp,) = parse_response_plans(data, "https://smba.example/", "t", (Scope(SUB),))
    assert rp.operation == by_key("Microsoft.Web/serverfarms/scale") and rp.parameters == (("capacity", 6),)
    data["responsePlans"][0]["parameters"] = {"capacity": 0}
    with pytest.raises(ValueError, match=r"parameters\.capacity"):
        parse_response_plans(data, "https://smba.example/", "t", (Scope(SUB),))


async def test_a_delivery_processed_again_keeps_the_plan_an_earlier_attempt_stored_and_proposes_nothing_twice(world: World) -> None:
    """An attempt that stored its plan (with its thread and card) and died before marking the delivery processed: a
    store committing plan by plan leaves exactly that. Processing the delivery again finds the plan by its id, derived
    from the delivery and the response plan, and only completes the rest."""
    first = await handle_alert(world.deps, alert(), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK, inbox_key="d-7")
    del world.store.inbox["d-7"]  # the inbox entry was never marked
    written = len(world.store.messages())
    again = await handle_alert(world.deps, alert(), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK, inbox_key="d-7")
    assert again.plans == first.plans and len(world.store.plans) == 1
    assert len(world.store.messages()) == written  # no second thread, no second card
    assert world.store.names(first.plans[0].id).count(E.PLAN_PROPOSED) == 1
    assert world.store.inbox["d-7"]["plans"][0]["id"] == first.plans[0].id
    other = await handle_alert(world.deps, alert(), [response_plan()], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK, inbox_key="d-8")
    assert other.plans[0].id != first.plans[0].id  # another delivery: another plan


async def test_an_incident_thread_s_messages_belong_to_its_plan(world: World) -> None:
    """The thread's opening, what the plan leaves alone, and the card are the plan's messages: a store keeping each
    plan's writes together writes them in the plan's own transaction."""
    outside = f"/subscriptions/{SUB}/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/x"
    narrow = replace(response_plan(), scopes=(Scope.parse(WEB01.id.split("/providers/")[0]),))
    outcome = await handle_alert(world.deps, alert(targets=(WEB01.id, outside)), [narrow], ConsentPolicy(), card, AlertAuth.SECURE_WEBHOOK)
    (plan,) = outcome.plans
    kinds = [(m.kind, m.plan_id) for m in world.store.messages()]
    assert kinds == [(MessageKind.OPEN_THREAD, plan.id), (MessageKind.TEXT, plan.id), (MessageKind.POST_CARD, plan.id)]
    assert pending_plan(plan.thread.conversation_id) == plan.id
