"""Every text a person reads about a plan, in one place, so each state reads the same on the card, in the thread,
in the answer to a click and in `pending`.

Rules for every text here: say what happened, then what to do next. Name a VM as "web-01 in prod-rg"; show a full
ARM id only where it adds something, and at most once per message. Azure's own error text appears once. Caller text
(titles, rationales, names, reasons) goes through `literal()` by the caller of these functions or here, never as markup.
"""

from __future__ import annotations

import re

from .markdown import literal
from .plan import AccessDenied, Plan, PlanState, ResourceRef

S = PlanState
PROPOSE_AGAIN = "Propose again"

# One headline per state, shared by the card's status line and the thread's reply
HEADLINES: dict[PlanState, str] = {
    S.PROPOSED: "Proposed",
    S.AWAITING_CONSENT: "⏳ Awaiting approval",
    S.DENIED: "🚫 Denied",
    S.APPROVED: "✅ Approved, starting",
    S.EXECUTING: "⚙️ Running with the agent identity",
    S.SUCCEEDED: "✅ Succeeded",
    S.AWAITING_CREDENTIALS: "🔐 Refused by Azure: credentials needed",
    S.CREDENTIALS_DENIED: "🚫 Credentials declined",
    S.EXECUTING_AS_USER: "⚙️ Running on behalf of an approver",
    S.USER_NOT_AUTHORIZED: "⛔ Not authorized",
    S.FAILED: "❌ Failed",
    S.EXPIRED: "⌛ Expired",
    S.INTERRUPTED: "⚠️ Interrupted",
}

_SCOPE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+)(?:/providers/[^/]+/[^/]+/(?P<name>[^/]+))?)?/?$",
    re.IGNORECASE,
)
_GUID_IN_CLIENT = re.compile(r"\s*\(?with object id '?[0-9a-f-]{36}'?\)?", re.IGNORECASE)


def vm(ref: ResourceRef) -> str:
    """A VM as people name it: "web-01 in prod-rg" (the full id adds nothing in a conversation)."""
    return f"{literal(ref.name)} in {literal(ref.resource_group)}"


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
    """A built-in role, and the scope, that would let an identity do what was refused.

    Virtual Machine Contributor grants Microsoft.Compute/virtualMachines/* (every power action here); see
    learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute#virtual-machine-contributor.
    """
    role = "Virtual Machine Contributor" if denied.permission.lower().startswith("microsoft.compute/virtualmachines/") else "Contributor"
    group = _group_of(denied.scope)
    return f"{role} on {literal(group)}" if group else f"{role} on {scope_label(denied.scope)}"


def refused_line(who: str, denied: AccessDenied) -> str:
    """One sentence naming who was refused what, where: the permission and the scope, each once."""
    return f"Azure refused {who}: it lacks **{literal(denied.permission)}** on {scope_label(denied.scope)}."


def refusal_line(plan: Plan) -> str:
    """Who Azure refused, what, where: for a plan awaiting credentials or not authorized (empty otherwise)."""
    d = plan.access_denied
    if d is None or plan.state not in (S.AWAITING_CREDENTIALS, S.USER_NOT_AUTHORIZED):
        return ""
    refused = [o for o in plan.outcomes if o.status == "refused"]
    if plan.state is S.USER_NOT_AUTHORIZED:
        who = literal(plan.credentials_by.name) if plan.credentials_by else identity_label(d.identity)
        return refused_line(who, d).replace(": it lacks", " too: it lacks") + " Nothing more was done."
    if len(refused) <= 1:
        return refused_line("the agent identity", d)
    who = literal(refused[-1].identity.removeprefix("on behalf of "))
    return refused_line(who, d).replace(": it lacks", " too: it lacks") + " Another approver may try theirs."


def next_step(plan: Plan) -> str:
    """What to do now that `plan` has reached its state (empty when nothing is needed)."""
    again = f"select **{PROPOSE_AGAIN}** on the card"
    if plan.state is S.AWAITING_CREDENTIALS:
        role = sufficient_role(plan.access_denied) if plan.access_denied else "the rights needed"
        return (
            f"An approver with {role} can select **Use my credentials** to let the agent act with their rights, "
            "once, for this plan (dropped as soon as it ends); **Cancel** ends it."
        )
    if plan.state is S.USER_NOT_AUTHORIZED:
        role = sufficient_role(plan.access_denied) if plan.access_denied else "the rights needed"
        return (
            f"It needs {role}. Someone with that role can {again}, approve it and lend their rights; "
            f"or ask an owner of the resource group to grant the role."
        )
    if plan.state is S.DENIED:
        return f"If it is still needed, {again} to ask for a new decision."
    if plan.state is S.EXPIRED:
        return f"If it is still needed, {again} to ask for a new decision."
    if plan.state is S.CREDENTIALS_DENIED:
        return f"If it is still needed, {again}; an approver with the rights can then lend them."
    if plan.state is S.INTERRUPTED:
        names = ", ".join(f"`status vm {a.resource.name}`" for a in plan.actions)
        return f"Check the VM's state first ({names}), then {again} if it is still needed."
    if plan.state is S.FAILED:
        return f"Once the cause above is dealt with, {again}."
    return ""


def declined_line(plan: Plan) -> str:
    who = literal(plan.decided_by.name) if plan.decided_by else "An approver"
    why = f": {literal(plan.reason)}" if plan.reason else " (no reason given)"
    return f"{who} declined to lend credentials{why}. Nothing more was done."


def denied_line(plan: Plan) -> str:
    who = literal(plan.decided_by.name) if plan.decided_by else "An approver"
    why = f": {literal(plan.reason)}" if plan.reason else " (no reason given)"
    return f"Denied by {who}{why}. Nothing was done."


def proposed_again(old_id: str, new_id: str) -> str:
    return (
        f"Proposed again as plan {new_id}, with the same actions as {old_id}. "
        "Its approvers will find a new card in this conversation; nothing runs until they approve it."
    )


def cannot_propose_again(plan: Plan) -> str:
    return (
        f"This plan is {plan.state.label.lower()}, so it cannot be proposed again; "
        "Propose again applies to plans that ended without doing everything. Nothing was done."
    )
