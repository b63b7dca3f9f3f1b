"""The conversation: messages become commands, card clicks become typed clicks; both checked once, then routed.

Order for every activity: the sender's own rate limit (before any lookup or store read), then who the person is
(their own tenant and role, as Teams reports the member), then the conversation's rate limit, charged only for people
who may act there (someone refused by the identity checks cannot spend it and lock the approvers out), then the router.
A card action on a plan that waits for the clicker is never refused for the conversation's traffic. A refusal is told
and audited at most NOTICES times per person in a burst (each reply spends the app's Teams budget, each audit row a
store write); beyond that it is only logged.
Handlers stay thin: they call a service and turn its result into a reply or an Answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from cards.view import READ_ONLY, Viewer

from ...domain import messages
from ...domain.audit import AuditEventName
from ...domain.consent import ConsentPolicy
from ...domain.errors import Refusal, RefusalCode
from ...domain.plan import Person, Plan
from ...domain.ratelimit import RateLimiter
from ...services.decide_consent import Decision
from ...services.deps import Deps
from . import on_clicks, on_commands  # noqa: F401 - their decorators register the handlers on ROUTER
from .answers import Answer, CardAnswer, ErrorAnswer, MessageAnswer
from .approvals import Approvals
from .clicks import CardClick, Malformed, NotExecute, Verb, parse_click
from .commands import Command, parse
from .on_clicks import shown_in
from .people import People, person_of
from .roster import ReadPace
from .router import Router
from .routes import ROUTER
from .turn import Incoming, Turn, thread_of

log = logging.getLogger(__name__)
CardFor = Callable[[Plan, Viewer], dict[str, Any]]
SsoVerify = Callable[[str, Person], Awaitable[None]]
ADAPTIVE_CARD_ACTION = "adaptiveCard/action"

_ANON = Person(object_id="unknown", name="unknown", tenant_id="")
TOO_FAST, INTERNAL_ERROR = messages.TOO_FAST, messages.INTERNAL_ERROR
PLAN_UNAVAILABLE = messages.PLAN_UNAVAILABLE
TURN_FAILED = messages.TURN_FAILED
NOTICES, NOTICE_PERIOD = 5, 600.0  # refusals told (and audited) per person: 5 in a burst, then one every 2 minutes


@dataclass(frozen=True)
class BotOptions:
    policy: ConsentPolicy
    connection_name: str
    sso_app_id_uri: str
    allow_guests: bool = False
    rate_person_per_minute: int = 60
    rate_conversation_per_minute: int = 120


class Conversation:
    """Routes @mention commands and Action.Execute verbs to the services; SDK adapters call `on_message` and
    `on_card_action` with a Turn."""

    router: Router[Conversation]

    def __init__(
        self,
        deps: Deps,
        options: BotOptions,
        card_for: CardFor,
        sso_verify: SsoVerify,
        approvals: Approvals | None = None,
        pace: ReadPace | None = None,
    ) -> None:
        self.deps, self.options, self.card_for, self.sso_verify = deps, options, card_for, sso_verify
        self.approvals = approvals or Approvals(None, None, None)
        self.people = People(deps.check_tenant, options.allow_guests, pace=pace)  # member reads at the outbox's pace
        seconds = lambda: deps.clock.now().timestamp()  # noqa: E731 - the injected clock, so tests move time
        self._per_person = RateLimiter(options.rate_person_per_minute, seconds)
        self._per_conversation = RateLimiter(options.rate_conversation_per_minute, seconds)
        self._notices = RateLimiter(NOTICES, seconds, period=NOTICE_PERIOD)

    # -- messages ---------------------------------------------------------------------------------
    async def answer(self, turn: Turn, text: str) -> None:
        """Answer a command through the outbox: a reply to the command's activity, sent in order and within Teams'
        rate limits, tried again until Teams takes it (a throttled turn no longer loses the answer)."""
        await self.deps.say(thread_of(turn.incoming), text, reply_to=turn.incoming.activity_id)

    async def on_message(self, turn: Turn) -> None:
        incoming = turn.incoming
        if self._person_waits(incoming, "command"):
            if self._may_tell(incoming):  # in the turn, not through the outbox: a flood must not become store writes
                await turn.replies.reply(TOO_FAST)
            return
        try:  # the person's own tenant and role, as Teams reports the member (not the conversation's tenant)
            person = await self.people.who(turn)
        except Refusal as r:
            claimed = person_of(incoming)
            if self._may_tell(incoming):
                if claimed is not None:
                    await self.deps.record(None, claimed, AuditEventName.COMMAND_REFUSED, code=r.code.value)
                await self.answer(turn, r.message)
            return
        if self._conversation_waits(incoming, "command"):
            if self._may_tell(incoming):
                await turn.replies.reply(TOO_FAST)
            return
        await self.approvals.learned(incoming, person)  # a personal message: where to reach this person
        command: Command = parse(turn.incoming.text)
        await self.router.run_command(self, turn, person, command)

    async def on_event(self, turn: Turn) -> None:
        """`installationUpdate` and `conversationUpdate`: the 1:1 chats the bot may write to (nothing is answered)."""
        incoming = turn.incoming
        if incoming.type == "conversationUpdate" and not incoming.members_added:
            return
        if self._person_waits(incoming, incoming.type):
            return
        person = person_of(incoming)  # the channel vouched for the activity; the tenant is still this bot's to check
        if person is None:
            return
        try:
            self.deps.check_tenant(person)
        except Refusal:
            return
        await self.approvals.learned(incoming, person)

    def _person_waits(self, incoming: Incoming, what: str) -> bool:
        """The sender's own bucket (the channel-authenticated sender), before any lookup or store read."""
        return self._over(self._per_person.take(_sender_key(incoming)), what, "the person")

    def _conversation_waits(self, incoming: Incoming, what: str) -> bool:
        """The conversation's bucket, charged only once the person is known to be someone who may act here."""
        return self._over(self._per_conversation.take(incoming.conversation_root), what, "the conversation")

    def _may_tell(self, incoming: Incoming) -> bool:
        """Whether a refusal may still be answered and audited for this sender: at most NOTICES in a burst."""
        return self._notices.take(_sender_key(incoming)) <= 0

    @staticmethod
    def _over(wait: float, what: str, whose: str) -> bool:
        if wait <= 0:
            return False
        # logged, not audited: a flood must not turn into as many store writes
        log.warning("rate limit: %s refused (%s over its limit; %.0fs to wait)", what, whose, wait, extra={"event": "rate_limited"})
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
            if self._may_tell(incoming):
                await self.deps.record(
                    None, person_of(incoming) or _ANON, AuditEventName.INVOKE_REFUSED, code=RefusalCode.BAD_REQUEST.value, verb=click.verb
                )
            return ErrorAnswer(400, "BadRequest", messages.MALFORMED_ACTION)
        if self._person_waits(incoming, click.verb.value):
            return ErrorAnswer(429, "TooManyRequests", TOO_FAST)
        try:  # every verb, refresh included: the person's own tenant and role
            person = await self.people.who(turn)
        except Refusal as r:
            return await self._refused_click(incoming, click, r)
        plan = await self.deps.store.get(click.plan_id)
        if plan is not None and not shown_in(plan, incoming):  # every verb: a card is acted on where it was posted
            if self._may_tell(incoming):
                await self.deps.record(plan, person, AuditEventName.INVOKE_REFUSED, code=RefusalCode.NOT_FOUND.value, verb=click.verb.value)
            return MessageAnswer(PLAN_UNAVAILABLE)  # the same answer as for no plan at all: ids reveal nothing
        if self._conversation_waits(incoming, click.verb.value) and not (plan and await self.deps.may_see_buttons(plan, person)):
            return ErrorAnswer(429, "TooManyRequests", TOO_FAST)  # a plan waiting for the clicker passes: others' traffic
        return await self.router.click(self, turn, person, replace(click, read=plan))

    async def _refused_click(self, incoming: Incoming, click: CardClick, r: Refusal) -> Answer:
        """The answer to someone the identity checks refused (audited at most NOTICES times in a burst)."""
        claimed = person_of(incoming)
        if self._may_tell(incoming):
            await self.deps.record(None, claimed or _ANON, AuditEventName.INVOKE_REFUSED, code=r.code.value, verb=click.verb.value)
        if click.verb is Verb.REFRESH:
            return MessageAnswer(PLAN_UNAVAILABLE)  # no hint whether the plan exists
        if claimed is None:
            return ErrorAnswer(403, "Forbidden", messages.WORK_ACCOUNT_ONLY)
        return MessageAnswer(r.message)

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


def _sender_key(incoming: Incoming) -> str:
    sender = incoming.sender
    return str((sender.aad_object_id or sender.id) if sender else "") or "unknown"


Conversation.router = ROUTER
