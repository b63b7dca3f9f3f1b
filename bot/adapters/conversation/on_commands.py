"""The @mention commands: each parsed command type answered by one handler (registered on the router)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...domain import messages
from ...domain.errors import Refusal
from ...domain.plan import Person, PlannedAction, ResourceRef
from ...services.housekeeping import pending_for
from ...services.propose_plan import PlanRequest, propose_plan
from ...services.resolve import resolve_vm
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
    if found := await _vm_named(c, turn, command):
        await c.answer(turn, messages.vm_status(*found))


@ROUTER.command(VmCommand)
async def _propose(c: Conversation, turn: Turn, person: Person, command: VmCommand) -> None:
    found = await _vm_named(c, turn, command)
    if found is None:
        return
    ref, state = found
    action = PlannedAction(command.operation, ref)
    if question := messages.pointless(command.operation.value, state, ref.name, ref.resource_group):
        await c.answer(turn, question)  # a question, not a plan nobody needs
        return
    request = PlanRequest(
        title=f"{command.operation.label} VM {ref.name}",
        rationale=f"Asked in Teams by {person.name}: \u201c{clip(turn.incoming.raw_text.strip(), 200)}\u201d",
        actions=(action,),
        requested_by=person,
        policy=c.options.policy,
        thread=thread_of(turn.incoming),
        power_states={ref.id.lower(): state} if state else {},
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


async def _vm_named(c: Conversation, turn: Turn, command: StatusCommand | VmCommand) -> tuple[ResourceRef, str | None] | None:
    """The VM a command names, inside the allowed scopes, and its power state; None once the refusal is answered."""
    try:
        ref = await resolve_vm(c.deps, command.target, command.resource_group)
    except Refusal as r:
        await c.answer(turn, r.message)
        return None
    return ref, await c.deps.runner.power_state(ref)
