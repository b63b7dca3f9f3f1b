"""What a person reads about a resource of any catalog type: its state (`status`), and the question asked instead of
proposing an action that would change nothing (a plan scaled to the count it has, an app started while running)."""

from __future__ import annotations

from .markdown import literal
from .messages import pointless, vm_status
from .operations import Facts, PlannedAction
from .resources import VIRTUAL_MACHINES, ResourceRef

# entries whose purpose is to change the state shown: proposing one that changes nothing is a question, not a plan
_CHANGES_STATE = frozenset({"start", "stop", "powerOff", "deallocate", "scale"})


def where(ref: ResourceRef) -> str:
    """A resource as people name it: "shop-plan in prod-rg" (the full id adds nothing in a conversation)."""
    return f"{literal(ref.display)} in {literal(ref.resource_group)}"


def facts_text(facts: Facts) -> str:
    return ", ".join(f"{label.lower()} **{literal(value)}**" for label, value in facts)


def status(ref: ResourceRef, facts: Facts) -> str:
    """`status <kind> <name>`: what the resource's state reads now."""
    if ref.type == VIRTUAL_MACHINES:
        return vm_status(ref, dict(facts).get("Power state"))
    noun_first = ref.resource_type.noun_first
    if not facts:
        return f"{noun_first} **{where(ref)}**: its state is unavailable right now; check it in the Azure portal."
    return f"{noun_first} **{where(ref)}**: {facts_text(facts)}."


def pointless_action(action: PlannedAction) -> str | None:
    """A question instead of a plan when the action would change nothing (None: propose it)."""
    r, spec = action.resource, action.operation
    if r.type == VIRTUAL_MACHINES:
        return pointless(spec.word, dict(action.before).get("Power state"), r.name, r.resource_group)
    if spec.word not in _CHANGES_STATE or not action.before or action.before != action.after:
        return None
    return f"{r.resource_type.noun_first} {where(r)} is already as asked ({facts_text(action.before)}). Nothing was proposed."
