"""Plans in every state, built through the real transitions, at a fixed time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.domain import transitions as t
from bot.domain.consent import ConsentPolicy
from bot.domain.plan import (
    AccessDenied,
    ActionOutcome,
    Operation,
    Person,
    Plan,
    PlannedAction,
    PlanState,
    ResourceRef,
    Thread,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-0000000000aa"
ALICE = Person("a1a1a1a1-0000-0000-0000-000000000001", "Alice Admin", "t", "29:alice")
BOB = Person("b0b0b0b0-0000-0000-0000-000000000002", "Bob Reader", "t", "29:bob")
CAROL = Person("c0c0c0c0-0000-0000-0000-000000000003", "Carol Requester", "t", "29:carol")
POLICY = ConsentPolicy(approvers=frozenset({ALICE.object_id, BOB.object_id}))
WEB01 = ResourceRef(SUB, "prod-rg", "web-01")
DENIED = AccessDenied(
    "Microsoft.Compute/virtualMachines/restart/action",
    WEB01.id,
    "sre-agent-app-id",
    "The client 'sre-agent-app-id' with object id 'x' does not have authorization ...",
)


def proposed(policy: ConsentPolicy = POLICY, requested_by: Person = CAROL) -> Plan:
    return Plan(
        id="p-0123456789ab",
        title="Restart VM web-01",
        rationale="Asked in Teams by Carol: restart vm web-01",
        actions=(PlannedAction(Operation.RESTART, WEB01, before=(("Power state", "running"),), after=(("Power state", "running"),)),),
        requested_by=requested_by,
        policy=policy,
        created_at=NOW,
        expires_at=NOW + policy.expiry,
        thread=Thread("https://smba.example/", "19:x@thread.v2", "t", "groupChat", "1700000000001"),
    )


def outcome(status: str, identity: str, detail: str) -> ActionOutcome:
    return ActionOutcome(0, status, identity, detail, NOW + timedelta(seconds=5), NOW + timedelta(seconds=40))


def every_state() -> dict[str, Plan]:
    """One plan per state of the machine, reached by legal moves."""
    p = proposed()
    awaiting = t.present(p, NOW)
    approved = t.approve(awaiting, ALICE, awaiting.content_hash, NOW, True)
    executing = t.report_progress(t.start(approved, NOW + timedelta(seconds=5)), "Restart VM web-01 in prod-rg: in progress")
    refused = t.agent_refused(executing, DENIED, outcome("refused", "the agent identity", "Azure refused"), NOW)
    as_user = t.grant_credentials(refused, ALICE, NOW + timedelta(minutes=1))
    later = NOW + timedelta(seconds=40)
    return {
        "proposed": p,
        "awaiting_consent": awaiting,
        "awaiting_consent_one_of_two": t.approve(
            replace(awaiting, policy=replace(POLICY, approvals_required=2)),
            BOB,
            replace(awaiting, policy=replace(POLICY, approvals_required=2)).content_hash,
            NOW,
            True,
        ),
        "denied": t.deny(awaiting, ALICE, awaiting.content_hash, NOW, True, "Not during the sale"),
        "approved": approved,
        "executing": executing,
        "succeeded": t.action_succeeded(executing, outcome("succeeded", "the agent identity", "VM running")),
        "failed": t.action_failed(executing, outcome("failed", "the agent identity", "Azure answered 500"), later),
        "awaiting_credentials": refused,
        "executing_as_user": as_user,
        "credentials_denied": t.cancel_credentials(refused, ALICE, later),
        "user_not_authorized": t.user_refused(
            replace(as_user, credentials_by=BOB),
            replace(DENIED, identity="bob@contoso.example"),
            outcome("refused", "on behalf of Bob Reader", "Azure refused"),
            later,
        ),
        "expired": t.expire(awaiting, NOW + timedelta(minutes=31)),
        "interrupted": t.interrupt(executing, later),
    }


ALL_STATES = set(PlanState)
