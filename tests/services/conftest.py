"""Service tests: the use cases over in-memory fakes of the ports (tests/fakes.py), no network, no sleeps."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain.consent import ConsentPolicy
from bot.domain.plan import Mode, Operation, Person, Plan, PlannedAction, ResourceRef, Source, Thread, ThreadKind
from bot.domain.scope import Scope
from bot.services.propose_plan import PlanRequest, propose_plan
from tests.fakes import World
from tests.unit.factories import CAROL, POLICY, SUB, WEB01

WEB02 = ResourceRef(SUB, "prod-rg", "web-02")
THREAD = Thread("https://smba.example/", "19:x@thread.v2", "t", ThreadKind.GROUP_CHAT)


@pytest.fixture
def world() -> World:
    w = World()
    w.deps.allowed_scopes = (Scope(SUB),)
    for vm in (WEB01, WEB02):  # the VMs the tests act on exist, running, as Azure reads them
        w.runner.power(vm, "running")
    return w


async def propose(
    world: World,
    *,
    policy: ConsentPolicy = POLICY,
    requested_by: Person = CAROL,
    targets: tuple[ResourceRef, ...] = (WEB01,),
    operation: Operation = Operation.RESTART,
    mode: Mode = Mode.REVIEW,
    source: Source = Source.CHAT,
) -> Plan:
    """A plan proposed through the service, as chat would (its card posted, its thread set)."""
    request = PlanRequest(
        title=f"{operation.label} VM {', '.join(t.name for t in targets)}",
        rationale="asked in a test",
        actions=tuple(PlannedAction(operation, t) for t in targets),
        requested_by=requested_by,
        policy=policy,
        thread=THREAD,
        mode=mode,
        source=source,
    )
    return await propose_plan(world.deps, request)


def with_quorum(n: int) -> ConsentPolicy:
    return replace(POLICY, approvals_required=n)
