"""Azure's names as people read them in a conversation: scopes shortened, client names without object ids, and the
built-in role that would have let an identity do what Azure refused."""

from __future__ import annotations

import re

from .markdown import literal
from .plan import AccessDenied
from .resources import RESOURCE_TYPES

_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+)(?:/providers/[^/]+/[^/]+/(?P<name>[^/]+))?)?/?$",
    re.IGNORECASE,
)
_GUID_IN_CLIENT = re.compile(r"\s*\(?with object id '?[0-9a-f-]{36}'?\)?", re.IGNORECASE)


def scope_label(scope: str) -> str:
    """An ARM scope, shortened: "web-01 in prod-rg", "resource group prod-rg", "subscription <id>"."""
    m = _SCOPE.match(scope.strip())
    if not m:
        return literal(scope)
    if m["name"]:
        return f"{literal(m['name'])} in {literal(m['rg'])}"
    if m["rg"]:
        return f"resource group {literal(m['rg'])}"
    return f"subscription {literal(m['sub'])}"


def _group_of(scope: str) -> str | None:
    m = _SCOPE.match(scope.strip())
    return m["rg"] if m and m["rg"] else None


def identity_label(identity: str) -> str:
    """Azure's client name without the object id that follows it (the id is in the audit log, not in the chat)."""
    return literal(_GUID_IN_CLIENT.sub("", identity).strip() or identity)


def sufficient_role(denied: AccessDenied) -> str:
    """A built-in role, and the scope, that would let an identity do what was refused: the role the catalog names for
    the permission's resource type (Virtual Machine Contributor for Microsoft.Compute/virtualMachines/*, Web Plan
    Contributor for Microsoft.Web/serverfarms/write, ...: bot/domain/resources.py cites each), else Contributor.
    """
    permission = denied.permission.lower()
    types = [t for t in RESOURCE_TYPES if permission.startswith(t.name.lower() + "/")]
    role = max(types, key=lambda t: len(t.name)).role if types else "Contributor"
    group = _group_of(denied.scope)
    return f"{role} on {literal(group)}" if group else f"{role} on {scope_label(denied.scope)}"


def refused_line(who: str, denied: AccessDenied) -> str:
    """One sentence naming who was refused what, where: the permission and the scope, each once."""
    return f"Azure refused {who}: it lacks **{literal(denied.permission)}** on {scope_label(denied.scope)}."
