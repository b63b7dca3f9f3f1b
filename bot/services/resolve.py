"""Turn what a person typed (a name, `<parent>/<name>`, maybe a group, or a resource id) into one resource of a
catalog type, or explain why not, with the nearest names of that type.

Scope and names are checked before any ARM call; only resources inside the allowed scopes are matched or suggested.
Resources are listed with the agent identity: a top-level type by subscription (`/subscriptions/<id>/providers/<type>`),
a child type (a slot, a node pool, a failover group) under the parents of that name.
"""

from __future__ import annotations

import difflib
import re

from ..domain import messages
from ..domain.errors import Refusal, RefusalCode
from ..domain.markdown import literal
from ..domain.resources import ResourceRef, ResourceType
from ..domain.scope import check_group_in_scope, check_in_scope, in_scopes
from .deps import Deps

_PARENT = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/.+/(?P<name>[^/]+)$", re.IGNORECASE)


async def resolve(deps: Deps, rtype: ResourceType, target: str, resource_group: str | None) -> ResourceRef:
    """The single resource of `rtype` meant by `target`, inside ALLOWED_SCOPES; raises Refusal with the closest names,
    the ambiguity, or the rule broken."""
    scopes = deps.allowed_scopes
    if target.lower().startswith("/subscriptions/"):
        try:
            ref = ResourceRef.parse(target)
        except ValueError as e:
            raise Refusal(RefusalCode.BAD_REQUEST, f"{literal(target)} is not a {rtype.noun} resource id: {e}.") from None
        if ref.type.lower() != rtype.name.lower():
            raise Refusal(RefusalCode.BAD_REQUEST, f"That id is a {ref.resource_type.noun}, not a {rtype.noun}.")
        check_in_scope(ref, scopes)
        return ref
    names = tuple(target.split("/"))
    try:
        ResourceRef.of(rtype, deps.home_subscription or "00000000-0000-0000-0000-000000000000", resource_group or "rg", names)
    except ValueError as e:
        raise Refusal(RefusalCode.BAD_REQUEST, f"That is not a valid {rtype.noun} name: {e}.") from None
    if resource_group is not None:
        check_group_in_scope(deps.home_subscription, resource_group, scopes)
    visible = [r for r in await _listing(deps, rtype, names[:-1]) if in_scopes(r, scopes)]  # one listing for all answers
    return _pick(rtype, target, resource_group, visible)


def _pick(rtype: ResourceType, target: str, resource_group: str | None, visible: list[ResourceRef]) -> ResourceRef:
    in_group = [r for r in visible if resource_group is None or r.resource_group.lower() == resource_group.lower()]
    matches = [r for r in in_group if r.display.lower() == target.lower()]
    elsewhere = sorted({r.resource_group for r in visible if r.display.lower() == target.lower()})
    if resource_group is not None and not matches and elsewhere:
        raise Refusal(RefusalCode.NOT_FOUND, messages.wrong_group(target, resource_group, elsewhere, rtype.noun))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        where = ", ".join(f"`{m.resource_group}`" for m in matches)
        raise Refusal(
            RefusalCode.BAD_REQUEST,
            f"There are several {rtype.noun}s named `{target}` (in {where}). "
            f"Say which one, e.g. `... {target} in {matches[0].resource_group}`.",
        )
    found = sorted({r.display for r in in_group})
    close = difflib.get_close_matches(target, found, n=3, cutoff=0.5)
    where = f" in resource group `{resource_group}`" if resource_group else ""
    if close:
        hint = "Did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    elif found:
        hint = f"{rtype.noun_first}s I can see: " + ", ".join(f"`{n}`" for n in found) + "."
    else:
        hint = f"I cannot see any {rtype.noun}."
    raise Refusal(RefusalCode.NOT_FOUND, f"I found no {rtype.noun} named `{target}`{where}. {hint}")


async def _listing(deps: Deps, rtype: ResourceType, parents: tuple[str, ...]) -> list[ResourceRef]:
    """The resources of `rtype` the agent identity can read in the home subscription (under parents so named)."""
    sub = deps.home_subscription
    if not sub:
        return []
    parent_type = rtype.parent_name
    if parent_type is None:
        return _refs(await _list(deps, f"/subscriptions/{sub}/providers/{rtype.name}", rtype))
    listed = [
        m
        for p in await _list(deps, f"/subscriptions/{sub}/providers/{parent_type}", rtype)
        if (m := _PARENT.match(str(p.get("id", "")))) and any(s.holds(m["sub"], m["rg"]) for s in deps.allowed_scopes)
    ]
    parent_ids = [m.string for m in listed if m["name"].lower() == parents[0].lower()]
    if not parent_ids:
        close = difflib.get_close_matches(parents[0], sorted({m["name"] for m in listed}), n=3, cutoff=0.5)
        hint = (" Did you mean " + " or ".join(f"`{c}`" for c in close) + "?") if close else ""
        raise Refusal(RefusalCode.NOT_FOUND, f"I found no {rtype.parent_noun} named `{literal(parents[0])}`.{hint}")
    children: list[ResourceRef] = []
    for parent in parent_ids:
        children += _refs(await _list(deps, f"{parent}/{rtype.segments[-1]}", rtype))
    return children


async def _list(deps: Deps, path: str, rtype: ResourceType) -> list[dict[str, object]]:
    items = await deps.runner.list(path, rtype.api_version)
    if items is None:
        raise Refusal(
            RefusalCode.UNAVAILABLE,
            f"I could not list the {rtype.noun}s I can see right now (Azure did not answer). Nothing was done; try again in a minute.",
        )
    return items


def _refs(items: list[dict[str, object]]) -> list[ResourceRef]:
    """The listed resources whose ids the catalog can parse (names Azure's rules allow): others reach no ARM path."""
    refs = []
    for item in items:
        try:
            refs.append(ResourceRef.parse(str(item.get("id", ""))))
        except ValueError:
            continue
    return refs
