"""Every text a person reads about a plan, in one place, so each state reads the same on the card, in the thread,
in the answer to a click and in `pending`.

Rules for every text here: say what happened, then what to do next. Name a VM as "web-01 in prod-rg"; show a full
ARM id only where it adds something, and at most once per message. Azure's own error text appears once. Caller text
(titles, rationales, names, reasons) goes through `literal()` by the caller of these functions or here, never as markup.
Azure's names and times are worded in azure_names.py and card_times.py.
"""

from __future__ import annotations

from datetime import datetime

from .azure_names import identity_label, refused_line, sufficient_role
from .card_times import time_left, waited
from .markdown import literal
from .nudges import waiting_since
from .plan import Plan, PlanState, ResourceRef

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


def vm(ref: ResourceRef) -> str:
    """A VM as people name it: "web-01 in prod-rg" (the full id adds nothing in a conversation)."""
    return f"{literal(ref.name)} in {literal(ref.resource_group)}"


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
        names = ", ".join(f"`status {a.resource.resource_type.kind} {a.resource.display}`" for a in plan.actions)
        nouns = {a.resource.resource_type.noun for a in plan.actions}
        whose = f"the {nouns.pop()}'s" if len(nouns) == 1 else "their"
        return f"Check {whose} state first ({names}), then {again} if it is still needed."
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


# -- answers to a click that came too late -------------------------------------------------------------------------

_NOW_IS = {
    S.APPROVED: "the agent is starting it",
    S.EXECUTING: "the agent is carrying it out",
    S.EXECUTING_AS_USER: "it is running with an approver's rights",
    S.AWAITING_CREDENTIALS: "Azure refused the agent, and it is waiting for an approver's credentials",
    S.SUCCEEDED: "it has succeeded",
    S.FAILED: "it has failed",
    S.USER_NOT_AUTHORIZED: "it ended because the lent rights were refused too",
    S.CREDENTIALS_DENIED: "it ended because credentials were declined",
    S.EXPIRED: "it has since expired",
    S.INTERRUPTED: "it was interrupted",
}


def already(plan: Plan) -> str:
    """What to tell someone whose click came too late: what happened, and where things stand now."""
    if plan.state is S.DENIED and plan.decided_by:
        return f"This plan was already denied by {literal(plan.decided_by.name)}. Nothing was done."
    if plan.state is S.EXPIRED and not plan.approvals:
        return EXPIRED_CLICK
    if plan.approvals and plan.state not in (S.AWAITING_CONSENT, S.PROPOSED):
        who = ", ".join(literal(p.name) for p in plan.approvers_so_far)
        return f"This plan was already approved by {who}; {_NOW_IS.get(plan.state, plan.state.label.lower())}."
    return f"This plan is {plan.state.label.lower()}; that action no longer applies. Nothing was done."


EXPIRED_CLICK = "This plan has expired; nothing was done. Select Propose again on its card if it is still needed."
CREDENTIALS_EXPIRED_CLICK = (
    "This credentials request has expired; nothing more was done. Select Propose again on its card if it is still needed."
)
INTERRUPTED_REASON = "The bot stopped while this plan was running, so whether its last action took effect is unknown."


def expired_reason(waiting_for_credentials: bool) -> str:
    waiting_for = "credentials" if waiting_for_credentials else "a decision"
    return f"Nobody gave {waiting_for} before the plan expired; nothing more was done."


# -- commands that make no sense for the VM's power state ----------------------------------------------------------

_NOT_RUNNING = {"stopped", "deallocated"}


def pointless(operation: str, state: str | None, name: str, group: str) -> str | None:
    """A question instead of a plan when `operation` (the ARM action name) cannot help a VM in `state`."""
    if not state:
        return None
    where = f"{literal(name)} in {literal(group)}"
    if operation == "start" and state == "running":
        return f"{where} is already running. Did you mean `restart vm {name}`? Nothing was proposed."
    if operation in ("powerOff", "deallocate") and state in _NOT_RUNNING:
        if operation == "deallocate" and state == "stopped":
            return None  # stopped still bills compute; deallocating it is meaningful
        return f"{where} is already {state}. Did you mean `start vm {name}`? Nothing was proposed."
    if operation == "restart" and state in _NOT_RUNNING:
        return f"{where} is {state}, and a restart needs a running VM. Did you mean `start vm {name}`? Nothing was proposed."
    return None


# -- the Teams router's own answers ---------------------------------------------------------------------------------

NOTHING_PENDING = "Nothing is waiting for you. Plans that need you appear here, and on their cards, as soon as they are proposed."
TOO_FAST = "You are sending commands faster than I can safely act on them; wait a minute and try again. Nothing was done."
PLAN_UNAVAILABLE = (
    "This plan is not available here: it does not exist, has been removed, or belongs to another "
    "conversation. Nothing was changed; look for the card in the conversation where it was posted."
)
INTERNAL_ERROR = (
    "Something went wrong on the bot's side; nothing was changed. The error was logged; try again, or ask the SRE team if it happens again."
)
TURN_FAILED = "Something went wrong on my side; nothing was changed. The error was logged; try again in a minute."
NOT_EXECUTE = "This card action is not an Action.Execute with a value; nothing was done. Use the buttons of the bot's own card."
MALFORMED_ACTION = (
    "This card action is malformed (unknown verb or missing plan id); nothing was done. Use the buttons of the bot's own card."
)
WORK_ACCOUNT_ONLY = "I can only act for people signed in with a work account; nothing was done."
SIGN_IN_UNAVAILABLE = "I could not get a sign-in link from the Bot Framework token service; nothing was changed. Try again in a minute."
SIGN_IN_PROMPT = "Sign in to lend your Azure rights for this plan"


def pending_list(plans: list[Plan], now: datetime) -> str:
    """`pending`: each plan with the same headline as its card, who asked, how long it has waited, and the time left."""
    lines = [
        f"- **{literal(p.title)}** ({p.id}): {HEADLINES[p.state]}, asked by {literal(p.requested_by.name)}, "
        f"waiting {waited(waiting_since(p), now)}, {time_left(p.expires_at, now)}"
        for p in plans
    ]
    return "Waiting for you (decide on each plan's card):\n\n" + "\n".join(lines)


def vm_status(ref: ResourceRef, state: str | None) -> str:
    if state:
        return f"VM **{vm(ref)}**: **{literal(state)}**."
    return f"VM **{vm(ref)}**: its power state is unavailable right now; check it in the Azure portal."


def wrong_group(name: str, asked_group: str, groups: list[str], noun: str = "VM") -> str:
    """A resource named in a group it is not in: say where it is."""
    where = " and ".join(f"`{literal(g)}`" for g in groups)
    return (
        f"There is no {noun} `{literal(name)}` in `{literal(asked_group)}`: {literal(name)} is in {where}. "
        f"Say `... {literal(name)} in {literal(groups[0])}`, or leave the group out. Nothing was proposed."
    )


# -- answers to a click --------------------------------------------------------------------------------------------

STALE_CARD = "This card does not match the stored plan (it was changed or tampered with). Nothing was done."
SELF_APPROVAL = "You asked for this plan, so someone else has to approve it."
NOT_AN_APPROVER = (
    "You are not one of the approvers of this plan; nothing was done. Its approvers see Approve and Deny on this card: "
    "ask one of them, or ask the bot's administrator to make you one (DEFAULT_APPROVERS or APPROVER_GROUP_ID)."
)
NOT_A_GRANTOR = (
    "Only the plan's approvers may lend their credentials; nothing was done. They see Use my credentials on this card: ask one of them."
)
NOT_A_CANCELLER = "Only the plan's approvers may cancel the credentials request; nothing was done."
AUTONOMOUS_NOT_ALLOWED = "Autonomous mode is only allowed for plans created by an incident response plan."
APPROVED = "Approved. The agent is carrying out the plan now; the result will be posted in this thread."
DENIED = "Denied. Nothing will be done; select Propose again on the card if it is still needed later."
NO_LONGER_EXISTS = "This plan no longer exists; nothing was done."


def no_plan(plan_id: str) -> str:
    return f"There is no plan '{literal(plan_id)}'; nothing was done. Look for the card in the conversation where it was posted."


def approval_recorded(missing: int) -> str:
    return f"Your approval is recorded; {missing} more approval(s) needed before the plan runs."


def already_approved_by_you(missing: int) -> str:
    return f"You already approved this plan; it still needs {missing} more approval(s) from someone else."


def running_on_behalf(name: str) -> str:
    return f"Running the rest of the plan on behalf of {literal(name)}; the result will be posted in this thread."


# -- plans asked where no approver can act (a personal chat, a chat without approvers) -------------------------
def sent_to_approvals(title: str, link: str) -> str:
    """To the requester: where their plan's card went, with a link to it."""
    return (
        f"None of the approvers can act in this chat, so I posted the plan **{literal(title)}** in the approvals "
        f"channel: [open the card]({link}). I will tell you here when it is approved, denied or expires."
    )


NOBODY_CAN_APPROVE = (
    "None of the approvers of this plan can see this chat, and no approvals channel is set up, so nobody can approve "
    "it here: it will expire unless you ask again in a channel or chat where an approver is. The plan is stored; ask "
    "the bot's administrator to set APPROVALS_CHANNEL to a Teams channel the approvers are in."
)


def approver_note(requester: str, title: str, link: str) -> str:
    """To one approver, in their 1:1 chat with the bot."""
    return f"{literal(requester)} asks: **{literal(title)}**. [Approve or deny it here]({link})."


def decision_for_requester(plan: Plan) -> str:
    """To the requester, where they asked, once the approvers decided elsewhere (or nobody did)."""
    title = literal(plan.title)
    who = literal(plan.decided_by.name) if plan.decided_by else "an approver"
    if plan.state is S.DENIED:
        why = f" Reason: \u201c{literal(plan.reason)}\u201d." if plan.reason else ""
        return f"\U0001f6ab Your plan **{title}** was denied by {who}.{why} Nothing will be done; ask again if it is still needed."
    if plan.state is S.EXPIRED:
        return f"\u231b Your plan **{title}** expired before it was approved; nothing was done. Ask again if it is still needed."
    approvers = ", ".join(literal(a.approver.name) for a in plan.approvals) or who
    return f"\u2705 Your plan **{title}** was approved by {approvers}; the agent is carrying it out now. I will tell you here how it ends."


_ENDED = {
    S.SUCCEEDED: "is done",
    S.FAILED: "failed",
    S.USER_NOT_AUTHORIZED: "could not run: Azure refused the agent, and the approver who lent their rights lacks them too",
    S.CREDENTIALS_DENIED: "stopped: Azure refused the agent, and an approver declined to lend their rights",
    S.EXPIRED: "expired: Azure refused the agent, and no approver lent their rights in time",
    S.INTERRUPTED: "was interrupted by a restart of the bot; check the VM before asking again",
}


def outcome_for_requester(plan: Plan) -> str:
    """To the requester, where they asked, once an approved plan ended (its card and result are elsewhere)."""
    return f"{HEADLINES[plan.state]}: your plan **{literal(plan.title)}** {_ENDED.get(plan.state, 'ended')}. Its card has the details."


def card_reposted(why: str) -> str:
    """In the thread, after a card posted again because its first post never reached Teams (the sweep's repair)."""
    return f"\U0001f501 This plan's card is posted again: the first post did not reach Teams ({literal(why)}). It can be decided here."


CARD_NEVER_SHOWN = (
    "Its card could not be posted in Teams, twice, so nobody could decide it; nothing was done. Ask again if it is still needed."
)
