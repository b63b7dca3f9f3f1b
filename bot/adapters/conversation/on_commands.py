"""The @mention commands: each parsed command type answered by one handler (registered on the router)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...domain import messages, resource_messages
from ...domain.errors import Refusal
from ...domain.operations import PlannedAction, Unplannable
from ...domain.plan import Person
from ...services.housekeeping import pending_for
from ...services.planning import prepare, state_now
from ...services.propose_plan import PlanRequest, propose_plan
from ...services.resolve import resolve
from .clicks import clip
from .commands import HelpCommand, PendingCommand, StatusCommand, Unknown, VmCommand, help_text
from .routes import ROUTER
from .turn import Turn, thread_of

if TYPE_CHECKING:
    from .core import Conversation


@ROUTER.command(HelpCommand)
async def _help(c: Conversation, turn: Turn, person: Person, command: HelpCommand) -> None:
    await c.answer(turn, help_text())


@ROUTER.command(Unknown)
async def _unknown(c: Conversation, turn: Turn, person: Person, command: Unknown) -> None:
    await c.answer(turn, command.hint)


@ROUTER.command(PendingCommand)
async def _pending(c: Conversation, turn: Turn, person: Person, command: PendingCommand) -> None:
    plans = await pending_for(c.deps, person)
    if not plans:
        await c.answer(turn, messages.NOTHING_PENDING)
        return
    await c.answer(turn, messages.pending_list(plans, c.deps.clock.now()))


@ROUTER.command(StatusCommand)
async def _status(c: Conversation, turn: Turn, person: Person, command: StatusCommand) -> None:
    try:
        ref = await resolve(c.deps, command.rtype, command.target, command.resource_group)
    except Refusal as r:
        await c.answer(turn, r.message)
        return
    await c.answer(turn, resource_messages.status(ref, await state_now(c.deps, ref)))


@ROUTER.command(VmCommand)
async def _propose(c: Conversation, turn: Turn, person: Person, command: VmCommand) -> None:
    action = await _planned(c, turn, command)
    if action is None:
        return
    if question := resource_messages.pointless_action(action):
        await c.answer(turn, question)  # a question, not a plan nobody needs
        return
    r, phrase = action.resource, action.operation.describe_params(action.params)
    request = PlanRequest(
        title=f"{action.operation.label} {r.resource_type.noun} {r.display}" + (f" {phrase}" if phrase else ""),
        rationale=f"Asked in Teams by {person.name}: \u201c{clip(turn.incoming.raw_text.strip(), 200)}\u201d",
        actions=(action,),
        requested_by=person,
        policy=c.options.policy,
        thread=thread_of(turn.incoming),
        reply_to=turn.incoming.activity_id,
    )
    # where none of the approvers can act (a personal chat...), the card goes to the approvals channel
    request, nobody = await c.approvals.route(request)
    try:
        await propose_plan(c.deps, request)
    except Refusal as r:
        await c.answer(turn, r.message)
        return
    if nobody is not None:
        await c.answer(turn, nobody)  # stored, and told plainly that nobody can approve it where it is


async def _planned(c: Conversation, turn: Turn, command: VmCommand) -> PlannedAction | None:
    """The action a command asks for: its resource found inside the allowed scopes, its request built on the state
    read now; None once the refusal is answered."""
    try:
        ref = await resolve(c.deps, command.operation.rtype, command.target, command.resource_group)
        return await prepare(c.deps, command.operation, ref, command.params)
    except Refusal as r:
        await c.answer(turn, r.message)
    except Unplannable as u:
        await c.answer(turn, f"{u.message[0].upper()}{u.message[1:]}. Nothing was proposed.")
    return None
