"""`POST /api/plans` actions: `{"operation", "resourceId", "parameters"}`, each an entry of the operations catalog.

The operation word is taken with the resource type of the id, case-insensitively (a VM body of before, `{"operation":
"restart", "resourceId": <vm id>}`, is the same thing). Everything is checked before any call to Azure: the id's type
and names, the scopes, the operation, its parameters' bounds; nothing free-form (a path, a body, a method) is accepted.
An operation the caller's entry does not allow is told apart (403) from a malformed one (400).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...domain.callers import ApiCaller
from ...domain.operations import (
    CATALOG,
    OperationSpec,
    ParamError,
    Parameters,
    PlannedAction,
    Unplannable,
    allowed,
    find,
    parse_parameters,
)
from ...domain.resources import ResourceRef
from ...domain.scope import Scope, describe, in_scopes, out_of_scope_message
from ...services.deps import Deps
from ...services.planning import prepare

MAX_ACTIONS = 20
FIELDS = ("operation", "resourceId", "parameters")
Report = Callable[[str, str], None]  # (field, message)


@dataclass(frozen=True)
class Intent:
    """One action as asked, checked: the entry, the resource and the parameters."""

    index: int
    spec: OperationSpec
    ref: ResourceRef
    params: Parameters


def parse_actions(raw: Any, caller: ApiCaller, scopes: tuple[Scope, ...], err: Report, deny: Report) -> list[Intent]:
    """The body's actions; malformed ones reported with `err` (400), ones the caller may not propose with `deny` (403)."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_ACTIONS:
        err("actions", f"required: a list of 1 to {MAX_ACTIONS} actions")
        return []
    intents = []
    for i, a in enumerate(raw):
        if intent := _parse_action(i, a, caller, scopes, err, deny):
            intents.append(intent)
    return intents


def _parse_action(i: int, a: Any, caller: ApiCaller, scopes: tuple[Scope, ...], err: Report, deny: Report) -> Intent | None:
    where = f"actions[{i}]"
    if not isinstance(a, dict):
        err(where, "must be an object with operation, resourceId and parameters")
        return None
    for key in a:
        if key not in FIELDS:
            err(f"{where}.{key}", "not accepted: an action names an operation of the catalog and the bot builds its request")
    ref = _resource(where, a.get("resourceId"), caller, scopes, err)
    spec = _operation(where, a.get("operation"), ref, err)
    params = _parameters(where, a.get("parameters", {}), spec, err)
    if spec is not None and not allowed(caller.operations, spec):
        deny(
            f"{where}.operation",
            f"{caller.name} may not propose {spec.key}; it may propose {', '.join(map(str, caller.operations))} (API_CALLERS_FILE)",
        )
        return None
    if ref is None or spec is None or params is None:
        return None
    return Intent(i, spec, ref, params)


def _resource(where: str, rid: Any, caller: ApiCaller, scopes: tuple[Scope, ...], err: Report) -> ResourceRef | None:
    try:
        ref = ResourceRef.parse(str(rid or ""))
    except ValueError as e:
        err(f"{where}.resourceId", str(e))
        return None
    if not in_scopes(ref, scopes):
        err(f"{where}.resourceId", out_of_scope_message(ref, scopes))
        return None
    if not in_scopes(ref, caller.scopes):
        noun = ref.resource_type.noun
        err(
            f"{where}.resourceId",
            f"{noun} {ref.display} in {ref.resource_group} is outside the scopes {caller.name} may propose for "
            f"({describe(caller.scopes)}; API_CALLERS_FILE)",
        )
        return None
    return ref


def _operation(where: str, word: Any, ref: ResourceRef | None, err: Report) -> OperationSpec | None:
    word = str(word or "")
    if ref is not None:
        spec = find(ref.type, word)
        if spec is None:
            words = ", ".join(w for s in CATALOG if s.rtype.name == ref.type for w in s.words)
            err(f"{where}.operation", f"a {ref.resource_type.noun} ({ref.type}) supports {words}; not {word or 'nothing'}")
        return spec
    if not any(s.named(word) for s in CATALOG):
        supported = "; ".join(f"{t}: {', '.join(w)}" for t, w in _words_by_type().items())
        err(f"{where}.operation", f"{word or 'nothing'} is not an operation I can carry out. Supported: {supported}")
    return None


def _words_by_type() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for s in CATALOG:
        found.setdefault(s.rtype.name, []).extend(s.words)
    return found


def _parameters(where: str, raw: Any, spec: OperationSpec | None, err: Report) -> Parameters | None:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        err(f"{where}.parameters", "an object of the operation's parameters")
        return None
    if spec is None:
        return None
    try:
        return parse_parameters(spec.params, raw)
    except ParamError as e:
        err(f"{where}.parameters.{e.name}", e.message)
        return None


async def plan_actions(deps: Deps, intents: list[Intent], err: Report) -> list[PlannedAction]:
    """Each action planned on the state read now (the card shows it); what cannot be planned reported with `err`."""
    planned = []
    for intent in intents:
        try:
            planned.append(await prepare(deps, intent.spec, intent.ref, intent.params))
        except Unplannable as u:
            err(f"actions[{intent.index}].{u.field}", u.message)
    return planned
