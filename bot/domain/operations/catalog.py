"""The operations catalog: every write the bot may carry out, one entry each, and the rules every entry point uses.

An action is planned only from an entry of CATALOG, on a resource of its type, with parameters inside their bounds:
anything else (another type, a delete, a free-form path or body) has no entry to be planned from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..resources import VIRTUAL_MACHINES, ResourceRef, require_type, resource_type, supported_types
from . import compute, containers, data, web
from .params import Parameters, schema
from .spec import Facts, Observation, OperationSpec, PlanContext, PlannedAction, StateSpec, Unplannable

CATALOG: tuple[OperationSpec, ...] = (
    *compute.VM_OPERATIONS,
    *compute.VMSS_OPERATIONS,
    *web.SITE_OPERATIONS,
    *web.SLOT_OPERATIONS,
    *web.PLAN_OPERATIONS,
    *containers.APP_OPERATIONS,
    *containers.POOL_OPERATIONS,
    *data.REDIS_OPERATIONS,
    *data.GROUP_OPERATIONS,
)
STATES: dict[str, StateSpec] = {**compute.STATES, **web.STATES, **containers.STATES, **data.STATES}


_BY_TYPE: dict[str, tuple[OperationSpec, ...]] = {
    name: tuple(s for s in CATALOG if s.rtype.name.lower() == name) for name in {s.rtype.name.lower() for s in CATALOG}
}  # every stored plan's actions are looked up here when it is read: a dict, not a walk of the catalog each time


def operations_of(type_name: str) -> tuple[OperationSpec, ...]:
    return _BY_TYPE.get(type_name.lower(), ())


def find(type_name: str, word: str) -> OperationSpec | None:
    """The entry of `type_name` that `word` names (its ARM word or an alias, in any case)."""
    return next((s for s in operations_of(type_name) if s.named(word)), None)


def words_of(type_name: str) -> str:
    """A type's operation words, as refusals list them."""
    return ", ".join(w for s in operations_of(type_name) for w in s.words)


def state_of(type_name: str) -> StateSpec:
    return STATES[require_type(type_name).name]


class Operation:
    """The virtual machine operations by name, and the plain words that name them (a plain word in API_CALLERS_FILE
    or a response plan is a VM operation, as before the catalog)."""

    RESTART, START, POWER_OFF, DEALLOCATE, REDEPLOY = compute.VM_OPERATIONS

    @staticmethod
    def parse(word: str) -> OperationSpec:
        """The VM operation `word` names (`stop` is powerOff); raises ValueError listing the accepted words."""
        found = find(VIRTUAL_MACHINES, word)
        if found is None:
            raise ValueError(f"operation must be one of {', '.join(OPERATION_WORDS)}")
        return found


# as refusals list them: the ARM words, then the other words people use ("stop")
OPERATION_WORDS: tuple[str, ...] = (*(s.word for s in compute.VM_OPERATIONS), *(a for s in compute.VM_OPERATIONS for a in s.aliases))


def by_key(key: str) -> OperationSpec:
    """The entry `<resource type>/<operation>` names, or a VM operation's plain word; ValueError saying what is known."""
    if "/" not in key.strip():
        return Operation.parse(key)
    type_name, _, word = key.strip().rpartition("/")
    if resource_type(type_name) is None:
        raise ValueError(f"{type_name} is not a type I can act on; supported: {supported_types()}")
    found = find(type_name, word)
    if found is None:
        raise ValueError(f"{type_name} has no operation {word}; its operations: {words_of(type_name)}")
    return found


@dataclass(frozen=True)
class OperationPattern:
    """What an API caller may propose: `<resource type>/<operation>`, `*` for either part, or `*` alone."""

    type_name: str  # a catalog type, or "*"
    word: str  # an operation word, or "*"

    @classmethod
    def parse(cls, text: str) -> OperationPattern:
        """Raises ValueError naming what is supported; a plain word is the VM operation of that name."""
        text = text.strip()
        if text == "*":
            return cls("*", "*")
        if "/" not in text:
            return cls(VIRTUAL_MACHINES, Operation.parse(text).word)
        type_part, _, word = text.rpartition("/")
        if type_part == "*":
            if word != "*" and not any(s.named(word) for s in CATALOG):
                raise ValueError(f"no type has an operation {word}")
            return cls("*", word)
        found = resource_type(type_part)
        if found is None:
            raise ValueError(f"{type_part} is not a type I can act on; supported: {supported_types()}")
        if word != "*" and find(found.name, word) is None:
            raise ValueError(f"{found.name} has no operation {word}; its operations: {words_of(found.name)}")
        return cls(found.name, word)

    def matches(self, spec: OperationSpec) -> bool:
        type_ok = self.type_name == "*" or self.type_name.lower() == spec.rtype.name.lower()
        return type_ok and (self.word == "*" or spec.named(self.word))

    def __str__(self) -> str:
        return "*" if self.type_name == self.word == "*" else f"{self.type_name}/{self.word}"


def allowed(patterns: Iterable[OperationPattern], spec: OperationSpec) -> bool:
    return any(p.matches(spec) for p in patterns)


def described(patterns: Iterable[OperationPattern] = (OperationPattern("*", "*"),)) -> list[dict[str, Any]]:
    """The entries `patterns` allow, as an agent reads them: the operation, its parameters as a JSON schema, the
    request it makes, the RBAC actions it needs, Microsoft's risk and the undo."""
    kept = tuple(patterns)
    return [
        {
            "operation": s.word,
            "resourceType": s.rtype.name,
            "key": s.key,
            "label": s.label,
            "aliases": list(s.aliases),
            "parameters": schema(s.params),
            "request": {"method": s.method, "path": "{resourceId}" + s.suffix, "apiVersion": s.api_version},
            "rbacActions": list(s.rbac),
            "risk": s.risk,
            "undo": s.undo,
            "reference": s.reference,
        }
        for s in CATALOG
        if allowed(kept, s)
    ]


def facts_of(ref: ResourceRef, observation: Observation | None) -> Facts:
    if observation is None or not observation.found:
        return ()
    return state_of(ref.type).facts(observation)


def plan_action(spec: OperationSpec, ref: ResourceRef, params: Parameters, observation: Observation | None) -> PlannedAction:
    """The action: the request built from the parameters (and the state read, where the entry needs it), and the
    state now and after as the card shows them. Raises Unplannable saying why it cannot be planned."""
    if ref.type.lower() != spec.rtype.name.lower():
        raise Unplannable(f"{spec.key} does not apply to a {ref.resource_type.noun}", "operation")
    if spec.needs_state and (observation is None or not observation.found):
        gone = observation is not None
        raise Unplannable(
            f"{ref.resource_type.noun} {ref.display} "
            + ("does not exist" if gone else "could not be read")
            + "; its current state is needed to build the request"
        )
    etag_of = state_of(ref.type).etag
    etag = etag_of(observation) if etag_of and observation is not None and observation.found else None
    request = spec.request(PlanContext(ref, dict(params), observation), etag)
    before = facts_of(ref, observation)
    after = spec.after(before, dict(params)) if spec.after and before else before
    return PlannedAction(spec, ref, request, params, before, after)


def changed(action: PlannedAction, observation: Observation | None) -> str | None:
    """What no longer holds of the state the card showed (None: it all holds, or the card showed none)."""
    if not action.before:
        return None
    r = action.resource
    what = f"{r.resource_type.noun} {r.display}"
    if observation is None:
        return f"the current state of {what} could not be read to confirm it is still as the card showed"
    if not observation.found:
        return f"{what} no longer exists"
    now: Mapping[str, str] = dict(facts_of(r, observation))
    diffs = [f"its {label.lower()} is {now.get(label, 'unknown')} now, not {was}" for label, was in action.before if now.get(label) != was]
    return f"{what}: " + "; ".join(diffs) + " as the card showed" if diffs else None
