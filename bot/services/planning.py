"""An action planned from the catalog, and the state it is planned on: read with the agent identity when the plan is
made (what the card shows as now -> after), and read again before it is sent (nothing is written if that changed)."""

from __future__ import annotations

from typing import Any

from ..domain.operations import (
    Facts,
    Observation,
    OperationSpec,
    Parameters,
    PlannedAction,
    Unplannable,
    changed,
    facts_of,
    plan_action,
    state_of,
)
from ..domain.plan import Plan
from ..domain.resources import ResourceRef
from ..ports import ReadStatus
from .deps import Deps


async def observe(deps: Deps, ref: ResourceRef) -> Observation | None:
    """The resource's state now, as the agent identity reads it; None when Azure could not tell (unreachable,
    throttled, the read refused). An Observation that is not `found` means Azure has no such resource."""
    bodies: list[tuple[str, Any]] = []
    for read in state_of(ref.type).reads:
        reading = await deps.runner.read(read.url_path(ref), read.version(ref.resource_type))
        if reading.status is ReadStatus.UNAVAILABLE:
            return None
        if reading.status is ReadStatus.NOT_FOUND and read.name == "resource":
            return Observation((("resource", None),))
        bodies.append((read.name, reading.body if reading.status is ReadStatus.FOUND else None))
    return Observation(tuple(bodies))


async def state_now(deps: Deps, ref: ResourceRef) -> Facts:
    """The resource's state as a card shows it (empty when it could not be read)."""
    return facts_of(ref, await observe(deps, ref))


async def prepare(deps: Deps, spec: OperationSpec, ref: ResourceRef, params: Parameters) -> PlannedAction:
    """The action, its request built on the state read now. Raises Unplannable (with the field at fault) when it
    cannot be planned: Azure has no such resource, or the entry's own rules refuse it."""
    observation = await observe(deps, ref)
    if observation is not None and not observation.found:
        raise Unplannable(f"Azure has no {ref.resource_type.noun} {ref.display} in resource group {ref.resource_group}")
    return plan_action(spec, ref, params, observation)


async def prepare_again(deps: Deps, plan: Plan) -> tuple[PlannedAction, ...]:
    """The plan's actions planned afresh on today's state (Propose again): the same operations and parameters."""
    return tuple([await prepare(deps, a.operation, a.resource, a.parameters) for a in plan.actions])


async def still_as_shown(deps: Deps, plan: Plan, index: int) -> str | None:
    """What no longer holds of the state the card showed for action `index` (None: it holds, or nothing was shown).

    An earlier action of the plan on the same resource changes its state on purpose: then there is nothing to compare.
    """
    action = plan.actions[index]
    if any(a.resource.id.lower() == action.resource.id.lower() for a in plan.actions[:index]):
        return None
    if not action.before:
        return None
    return changed(action, await observe(deps, action.resource))
