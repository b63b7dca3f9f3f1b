"""Turn what a person typed (a VM name, maybe a group, or a resource id) into one VM, or explain why not."""

from __future__ import annotations

import difflib

from ..domain import messages
from ..domain.errors import Refusal, RefusalCode
from ..domain.markdown import literal
from ..domain.plan import ResourceRef
from ..domain.scope import check_group_in_scope, check_in_scope, in_scopes
from .deps import Deps


async def resolve_vm(deps: Deps, target: str, resource_group: str | None) -> ResourceRef:
    """The single VM meant by `target`, inside ALLOWED_SCOPES; raises Refusal with the closest names or the ambiguity.

    Scope and names are checked before any ARM call; only VMs inside the allowed scopes are matched or suggested.
    """
    scopes = deps.allowed_scopes
    if target.lower().startswith("/subscriptions/"):
        try:
            ref = ResourceRef.parse(target)
        except ValueError as e:
            raise Refusal(RefusalCode.BAD_REQUEST, f"{literal(target)} is not a VM resource id: {e}.") from None
        check_in_scope(ref, scopes)
        return ref
    if resource_group is not None:
        check_group_in_scope(deps.home_subscription, resource_group, scopes)
    visible = [vm for vm in await deps.runner.list_vms() if in_scopes(vm, scopes)]  # one listing for all answers
    in_group = [vm for vm in visible if resource_group is None or vm.resource_group.lower() == resource_group.lower()]
    matches = [vm for vm in in_group if vm.name.lower() == target.lower()]
    elsewhere = sorted({vm.resource_group for vm in visible if vm.name.lower() == target.lower()})
    if resource_group is not None and not matches and elsewhere:
        raise Refusal(RefusalCode.NOT_FOUND, messages.wrong_group(target, resource_group, elsewhere))
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        where = ", ".join(f"`{m.resource_group}`" for m in matches)
        raise Refusal(
            RefusalCode.BAD_REQUEST,
            f"There are several VMs named `{target}` (in {where}). Say which one, e.g. `... {target} in {matches[0].resource_group}`.",
        )
    names = sorted({vm.name for vm in in_group})
    close = difflib.get_close_matches(target, names, n=3, cutoff=0.5)
    where = f" in resource group `{resource_group}`" if resource_group else ""
    hint = (
        ("Did you mean " + " or ".join(f"`{c}`" for c in close) + "?")
        if close
        else ("VMs I can see: " + ", ".join(f"`{n}`" for n in names) + "." if names else "I cannot see any VM.")
    )
    raise Refusal(RefusalCode.NOT_FOUND, f"I found no VM named `{target}`{where}. {hint}")
