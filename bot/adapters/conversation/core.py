"""The conversation: messages become commands, card clicks become typed clicks; both checked once, then routed.

Order for every activity: rate limit (per person and per conversation, before any lookup or store read),
then who the person is (their own tenant and role, as Teams reports the member), then the router.
Handlers stay thin: they call a service and turn its result into a reply or an Answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cards.plan_card import READ_ONLY, Viewer

from ...domain import messages
from ...domain.audit import AuditEventName
from ...domain.consent import ConsentPolicy
from ...domain.errors import CredentialProblemKind, Refusal, RefusalCode
from ...domain.plan import Person, Plan, PlannedAction, Thread, ThreadKind
from ...domain.ratelimit import RateLimiter, take_all
from ...services.decide_consent import Decision, decide_consent
from ...services.deps import Deps
from ...services.grant_credentials import cancel_credentials, grant_credentials
from ...services.housekeeping import pending_for
from ...services.propose_again import propose_again
from ...services.propose_plan import PlanRequest, propose_plan
from ...services.resolve import resolve_vm
from .answers import Answer, CardAnswer, ErrorAnswer, InvalidAuthCode, LoginRequest, MessageAnswer, PreconditionFailed
from .approvals import Approvals
from .clicks import CardClick, Malformed, NotExecute, Verb, clip, parse_click
from .commands import Command, HelpCommand, PendingCommand, StatusCommand, Unknown, VmCommand, help_text, parse
from .people import People, person_of
from .router import Router
from .turn import Incoming, Turn

log = logging.getLogger(__name__)
CardFor = Callable[[Plan, Viewer], dict[str, Any]]
SsoVerify = Callable[[str, Person], Awaitable[None]]
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"

_ANON = Person(object_id="unknown", name="unknown", tenant_id="")
TOO_FAST, INTERNAL_ERROR = messages.TOO_FAST, messages.INTERNAL_ERROR
PLAN_UNAVAILABLE = messages.PLAN_UNAVAILABLE
TURN_FAILED = messages.TURN_FAILED


@dataclass(frozen=True)
class BotOptions:
    policy: ConsentPolicy
    connection_name: str
    sso_app_id_uri: str
    allow_guests: bool = False
    rate_person_per_minute: int = 60
    rate_conversation_per_minute: int = 120


def thread_of(incoming: Incoming) -> Thread:
    kind = ThreadKind.of(incoming.conversation_type or (ThreadKind.GROUP_CHAT if incoming.is_group else None))
    return Thread(
        service_url=incoming.service_url, conversation_id=incoming.conversation_id, tenant_id=incoming.conversation_tenant_id, kind=kind
    )


class Conversation:
    """Routes @mention commands and Action.Execute verbs to the services; SDK adapters call `on_message` and
    `on_card_action` with a Turn."""

    router: Router[Conversation]

    def __init__(
        self, deps: Deps, options: BotOptions, card_for: CardFor, sso_verify: SsoVerify, approvals: Approvals | None = None
    ) -> None:
        self.deps, self.options, self.card_for, self.sso_verify = deps, options, card_for, sso_verify
        self.approvals = approvals or Approvals(None, None, None)
        self.people = People(deps.check_tenant, options.allow_guests)
        seconds = lambda: deps.clock.now().timestamp()  # noqa: E731 - the injected clock, so tests move time
        self._per_person = RateLimiter(options.rate_person_per_minute, seconds)
        self._per_conversation = RateLimiter(options.rate_conversation_per_minute, seconds)

    # -- messages ---------------------------------------------------------------------------------
    async def answer(self, turn: Turn, text: str) -> None:
        """Answer a command through the outbox: a reply to the command's activity, sent in order and within Teams'
        rate limits, tried again until Teams takes it (a throttled turn no longer loses the answer)."""
        await self.deps.say(thread_of(turn.incoming), text, reply_to=turn.incoming.activity_id)

    async def on_message(self, turn: Turn) -> None:
        if self._too_fast(turn.incoming, "command"):
            # in the turn, not through the outbox: a flood must not turn into as many store writes
            await turn.replies.reply(TOO_FAST)
            return
        try:  # the person's own tenant and role, as Teams reports the member (not the conversation's tenant)
            person = await self.people.who(turn)
        except Refusal as r:
            claimed = person_of(turn.incoming)
            if claimed is not None:
                await self.deps.record(None, claimed, AuditEventName.COMMAND_REFUSED, code=r.code.value)
            await self.answer(turn, r.message)
            return
        await self.approvals.learned(turn.incoming, person)  # a personal message: where to reach this person
        command: Command = parse(turn.incoming.text)
        await self.router.run_command(self, turn, person, command)

    async def on_event(self, turn: Turn) -> None:
        """`installationUpdate` and `conversationUpdate`: the 1:1 chats the bot may write to (nothing is answered)."""
        incoming = turn.incoming
        if incoming.type == "conversationUpdate" and not incoming.members_added:
            return
        if self._too_fast(incoming, incoming.type):
            return
        person = person_of(incoming)  # the channel vouched for the activity; the tenant is still this bot's to check
        if person is None:
            return
        try:
            self.deps.check_tenant(person)
        except Refusal:
            return
        await self.approvals.learned(incoming, person)

    def _too_fast(self, incoming: Incoming, what: str) -> bool:
        """Per person (the channel-authenticated sender) and per conversation; checked before any lookup or store read."""
        sender = incoming.sender
        who = str((sender.aad_object_id or sender.id) if sender else "") or "unknown"
        wait = take_all([(self._per_person, who), (self._per_conversation, incoming.conversation_root)])
        if wait <= 0:
            return False
        # logged, not audited: a flood must not turn into as many store writes
        log.warning(
            "rate limit: %s refused (person or conversation over its limit; %.0fs to wait)", what, wait, extra={"event": "rate_limited"}
        )
        return True

    # -- card actions -----------------------------------------------------------------------------
    async def on_card_action(self, turn: Turn) -> Answer:
        """An `adaptiveCard/action` invoke: never raises; a failure is a 500 error answer."""
        try:
            return await self._card_action(turn)
        except Exception:
            log.exception("card action failed")
            return ErrorAnswer(500, "InternalError", INTERNAL_ERROR)

    async def _card_action(self, turn: Turn) -> Answer:
        incoming = turn.incoming
        click = parse_click(incoming.value)
        if isinstance(click, NotExecute):
            return ErrorAnswer(400, "BadRequest", messages.NOT_EXECUTE)
        if isinstance(click, Malformed):
            await self.deps.record(
                None, person_of(incoming) or _ANON, AuditEventName.INVOKE_REFUSED, code=RefusalCode.BAD_REQUEST.value, verb=click.verb
            )
            return ErrorAnswer(400, "BadRequest", messages.MALFORMED_ACTION)
        if self._too_fast(incoming, click.verb.value):
            return ErrorAnswer(429, "TooManyRequests", TOO_FAST)
        try:  # every verb, refresh included: the person's own tenant and role
            person = await self.people.who(turn)
        except Refusal as r:
            claimed = person_of(incoming)
            await self.deps.record(None, claimed or _ANON, AuditEventName.INVOKE_REFUSED, code=r.code.value, verb=click.verb.value)
            if click.verb is Verb.REFRESH:
                return MessageAnswer(PLAN_UNAVAILABLE)  # no hint whether the plan exists
            if claimed is None:
                return ErrorAnswer(403, "Forbidden", messages.WORK_ACCOUNT_ONLY)
            return MessageAnswer(r.message)
        return await self.router.click(self, turn, person, click)

    # -- shared by the handlers -------------------------------------------------------------------
    async def after_click(self, decision: Decision, person: Person) -> Answer:
        """The card as the clicker now sees it; a refusal is shown to them only (an invoke error for bad card data)."""
        refusal = decision.refusal
        if refusal is None and decision.plan is not None:
            return CardAnswer(self.card_for(decision.plan, await self.viewer(decision.plan, person)))
        if refusal is not None and refusal.code in (RefusalCode.STALE_CARD, RefusalCode.BAD_REQUEST):
            return ErrorAnswer(400, refusal.code.value, refusal.message)
        return MessageAnswer(decision.message)

    async def viewer(self, plan: Plan, person: Person) -> Viewer:
        """Buttons for the people the plan waits for (one rule: domain/permissions.py), a read-only card for others."""
        return Viewer(can_act=True) if await self.deps.may_see_buttons(plan, person) else READ_ONLY


ROUTER: Router[Conversation] = Router()
Conversation.router = ROUTER


# -- commands -------------------------------------------------------------------------------------
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
        ref = await resolve_vm(c.deps, command.target, command.resource_group)
    except Refusal as r:
        await c.answer(turn, r.message)
        return
    state = await c.deps.runner.power_state(ref)
    await c.answer(turn, messages.vm_status(ref, state))


@ROUTER.command(VmCommand)
async def _propose(c: Conversation, turn: Turn, person: Person, command: VmCommand) -> None:
    try:
        ref = await resolve_vm(c.deps, command.target, command.resource_group)
    except Refusal as r:
        await c.answer(turn, r.message)
        return
    action = PlannedAction(command.operation, ref)
    state = await c.deps.runner.power_state(ref)
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
    request, nobody = await c.approvals.route(request, turn.incoming)
    try:
        await propose_plan(c.deps, request)
    except Refusal as r:
        await c.answer(turn, r.message)
        return
    if nobody is not None:
        await c.answer(turn, nobody)  # stored, and told plainly that nobody can approve it where it is


# -- card clicks ----------------------------------------------------------------------------------
@ROUTER.verb(Verb.APPROVE)
async def _approve(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    return await c.after_click(await decide_consent(c.deps, click.plan_id, person, True, click.plan_hash), person)


@ROUTER.verb(Verb.DENY)
async def _deny(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    decision = await decide_consent(c.deps, click.plan_id, person, False, click.plan_hash, click.reason)
    return await c.after_click(decision, person)


@ROUTER.verb(Verb.REFRESH)
async def _refresh(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    plan = await c.deps.store.get(click.plan_id)
    if plan is None or not _shown_in(plan, turn.incoming):
        # the same answer for a plan that does not exist and one posted elsewhere: ids reveal nothing
        return MessageAnswer(PLAN_UNAVAILABLE)
    return CardAnswer(c.card_for(plan, await c.viewer(plan, person)))


@ROUTER.verb(Verb.GRANT)
async def _grant(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    token = click.sso_token
    if token is None and click.magic_code is not None:
        # the sign-in fallback: the person signed in through the token service's link; Teams sends the
        # magic code, which the token service trades for the connection's token (checked like an SSO token)
        token = await _token_for_code(c, turn, click.magic_code)
        if token is None:
            await c.deps.record(
                await c.deps.store.get(click.plan_id),
                person,
                AuditEventName.CREDENTIALS_REFUSED,
                code=CredentialProblemKind.INVALID_AUTH_CODE.value,
                reason="the sign-in code did not match a sign-in",
            )
            return InvalidAuthCode()
    decision = await grant_credentials(c.deps, click.plan_id, person, click.plan_hash, token, c.sso_verify)
    if decision.needs_sign_in:
        o = c.options
        link = await _sign_in_link(c, turn)
        if link is None:
            return ErrorAnswer(
                503,
                "SignInUnavailable",
                messages.SIGN_IN_UNAVAILABLE,
            )
        return LoginRequest(o.connection_name, click.plan_id, o.sso_app_id_uri, link)
    if decision.retry_sso:
        return PreconditionFailed(decision.message)
    return await c.after_click(decision, person)


@ROUTER.verb(Verb.CANCEL)
async def _cancel(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    decision = await cancel_credentials(c.deps, click.plan_id, person, click.plan_hash, click.reason)
    return await c.after_click(decision, person)


@ROUTER.verb(Verb.PROPOSE_AGAIN)
async def _propose_again(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    """A new plan with the same actions, posted in the same thread; the old card stays as it is."""
    plan = await c.deps.store.get(click.plan_id)
    if plan is None or not _shown_in(plan, turn.incoming):
        return MessageAnswer(PLAN_UNAVAILABLE)
    decision = await propose_again(c.deps, click.plan_id, person, click.plan_hash)
    if decision.refusal is not None and decision.refusal.code in (RefusalCode.STALE_CARD, RefusalCode.BAD_REQUEST):
        return ErrorAnswer(400, decision.refusal.code.value, decision.refusal.message)
    return MessageAnswer(decision.message)


async def _sign_in_link(c: Conversation, turn: Turn) -> str | None:
    """The token service's sign-in link for the OAuth connection (Teams shows it when SSO is not possible)."""
    if turn.tokens is None:
        return None
    try:
        link = await turn.tokens.sign_in_link(c.options.connection_name)
    except Exception:
        log.exception("the Bot Framework token service gave no sign-in link")
        return None
    return link if isinstance(link, str) and link else None


async def _token_for_code(c: Conversation, turn: Turn, code: str) -> str | None:
    sender = turn.incoming.sender
    if turn.tokens is None or sender is None or not sender.id:
        return None
    try:
        token = await turn.tokens.token_for_code(c.options.connection_name, code[:64])
    except Exception:
        log.exception("the Bot Framework token service did not answer for a sign-in code")
        return None
    if not isinstance(token, str) or not token:
        return None
    try:  # the bot holds the token only for this grant: the token service need not keep it either
        await turn.tokens.sign_out(c.options.connection_name)
    except Exception:
        log.warning("could not sign the user out of the token service after the grant", exc_info=True)
    return token


def _shown_in(plan: Plan, incoming: Incoming) -> bool:
    """True if the plan's card was posted in the conversation (any thread of it) this activity comes from."""
    if plan.thread is None or not incoming.conversation_id:
        return False
    return plan.thread.conversation_id.split(";messageid=")[0] == incoming.conversation_root
