"""The Teams activity handler: messages become commands, card clicks become invokes routed by verb.

Handlers stay thin: they turn an activity into a Person and arguments, call a service, and turn
its result into a reply or an invoke response.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import ActivityHandler, CloudAdapterBase, InvokeResponse, TurnContext
from botframework.connector.auth import UserTokenClient

from cards.plan_card import READ_ONLY, VERB_APPROVE, VERB_CANCEL, VERB_DENY, VERB_GRANT, VERB_REFRESH, Viewer

from ...domain.audit import AuditEventName
from ...domain.consent import ConsentPolicy
from ...domain.errors import CredentialProblemKind, Refusal, RefusalCode
from ...domain.markdown import literal
from ...domain.plan import Person, Plan, PlannedAction, Thread, ThreadKind
from ...domain.ratelimit import RateLimiter, take_all
from ...services.decide_consent import Decision, decide_consent
from ...services.deps import Deps
from ...services.grant_credentials import cancel_credentials, grant_credentials
from ...services.housekeeping import pending_for
from ...services.propose_plan import PlanRequest, propose_plan
from ...services.resolve import resolve_vm
from . import invoke
from .commands import (
    Command,
    HelpCommand,
    PendingCommand,
    StatusCommand,
    Unknown,
    VmCommand,
    help_text,
    parse,
)
from .people import People, person_of

log = logging.getLogger(__name__)
CardFor = Callable[[Plan, Viewer], dict[str, Any]]
SsoVerify = Callable[[str, Person], Awaitable[None]]


@dataclass(frozen=True)
class BotOptions:
    policy: ConsentPolicy
    connection_name: str
    sso_app_id_uri: str
    allow_guests: bool = False
    rate_person_per_minute: int = 60
    rate_conversation_per_minute: int = 120


def thread_of(activity: Any) -> Thread:
    conv = activity.conversation
    kind = ThreadKind.of(conv.conversation_type or (ThreadKind.GROUP_CHAT if conv.is_group else None))
    return Thread(service_url=activity.service_url, conversation_id=conv.id, tenant_id=conv.tenant_id or "", kind=kind)


class ConsentBot(ActivityHandler):
    """Routes @mention commands and Action.Execute verbs to the services."""

    def __init__(self, deps: Deps, options: BotOptions, card_for: CardFor, sso_verify: SsoVerify) -> None:
        self.deps, self.options, self.card_for, self.sso_verify = deps, options, card_for, sso_verify
        self.people = People(deps.check_tenant, options.allow_guests)
        seconds = lambda: deps.clock.now().timestamp()  # noqa: E731 - the injected clock, so tests move time
        self._per_person = RateLimiter(options.rate_person_per_minute, seconds)
        self._per_conversation = RateLimiter(options.rate_conversation_per_minute, seconds)
        self._commands: dict[type, Callable[[TurnContext, Person, Any], Awaitable[None]]] = {
            HelpCommand: self._help, PendingCommand: self._pending, StatusCommand: self._status,
            VmCommand: self._propose, Unknown: self._unknown,
        }
        self._verbs: dict[str, Callable[[TurnContext, Person, dict[str, Any]], Awaitable[InvokeResponse]]] = {
            VERB_APPROVE: self._approve, VERB_DENY: self._deny, VERB_REFRESH: self._refresh,
            VERB_GRANT: self._grant, VERB_CANCEL: self._cancel,
        }

    # -- messages ---------------------------------------------------------------------------------
    async def _answer(self, turn_context: TurnContext, text: str) -> None:
        """Answer a command through the outbox: a reply to the command's activity, sent in order and within Teams'
        rate limits, tried again until Teams takes it (a throttled turn no longer loses the answer)."""
        await self.deps.say(thread_of(turn_context.activity), text, reply_to=turn_context.activity.id)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        text = TurnContext.remove_recipient_mention(activity) if activity.entities else activity.text
        if self._too_fast(activity, "command"):
            # in the turn, not through the outbox: a flood must not turn into as many store writes
            await turn_context.send_activity(TOO_FAST)
            return
        try:  # the person's own tenant and role, as Teams reports the member (not the conversation's tenant)
            person = await self.people.who(turn_context)
        except Refusal as r:
            claimed = person_of(activity)
            if claimed is not None:
                await self.deps.record(None, claimed, AuditEventName.COMMAND_REFUSED, code=r.code.value)
            await self._answer(turn_context, r.message)
            return
        command: Command = parse(text or "")
        await self._commands[type(command)](turn_context, person, command)

    def _too_fast(self, activity: Any, what: str) -> bool:
        """Per person (the channel-authenticated sender) and per conversation; checked before any lookup or store read."""
        sender = activity.from_property
        who = str((sender.aad_object_id or sender.id) if sender else "") or "unknown"
        conversation = str(activity.conversation.id if activity.conversation else "").split(";messageid=")[0]
        wait = take_all([(self._per_person, who), (self._per_conversation, conversation)])
        if wait <= 0:
            return False
        # logged, not audited: a flood must not turn into as many store writes
        log.warning("rate limit: %s refused (person or conversation over its limit; %.0fs to wait)", what, wait,
                    extra={"event": "rate_limited"})
        return True

    async def _help(self, turn_context: TurnContext, person: Person, command: HelpCommand) -> None:
        await self._answer(turn_context, help_text())

    async def _unknown(self, turn_context: TurnContext, person: Person, command: Unknown) -> None:
        await self._answer(turn_context, command.hint)

    async def _pending(self, turn_context: TurnContext, person: Person, command: PendingCommand) -> None:
        plans = await pending_for(self.deps, person)
        if not plans:
            await self._answer(turn_context, "Nothing is waiting for you.")
            return
        now = self.deps.clock.now()
        lines = [
            f"- **{literal(p.title)}** ({p.id}): {p.state.label.lower()}, asked by {literal(p.requested_by.name)}, "
            f"{max(0, int((p.expires_at - now).total_seconds() // 60))} min left"
            for p in plans
        ]
        await self._answer(turn_context, "Waiting for you:\n\n" + "\n".join(lines))

    async def _status(self, turn_context: TurnContext, person: Person, command: StatusCommand) -> None:
        try:
            ref = await resolve_vm(self.deps, command.target, command.resource_group)
        except Refusal as r:
            await self._answer(turn_context, r.message)
            return
        state = await self.deps.runner.power_state(ref)
        await self._answer(turn_context,
            f"VM **{ref.name}** in `{ref.resource_group}`: " + (f"**{state}**." if state else "power state unavailable."))

    async def _propose(self, turn_context: TurnContext, person: Person, command: VmCommand) -> None:
        try:
            ref = await resolve_vm(self.deps, command.target, command.resource_group)
        except Refusal as r:
            await self._answer(turn_context, r.message)
            return
        action = PlannedAction(command.operation, ref)
        state = await self.deps.runner.power_state(ref)
        text = (turn_context.activity.text or "").strip()
        request = PlanRequest(
            title=f"{command.operation.label} VM {ref.name}",
            rationale=f"Asked in Teams by {person.name}: \u201c{_clip(text, 200)}\u201d",
            actions=(action,), requested_by=person, policy=self.options.policy,
            thread=thread_of(turn_context.activity), power_states={ref.id.lower(): state} if state else {},
            reply_to=turn_context.activity.id,
        )
        try:
            await propose_plan(self.deps, request)
        except Refusal as r:
            await self._answer(turn_context, r.message)

    # -- card actions -----------------------------------------------------------------------------
    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        if turn_context.activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)  # type: ignore[no-any-return]
        try:
            return await self._card_action(turn_context)
        except Exception:
            log.exception("card action failed")
            return invoke.error(500, "InternalError", "Something went wrong on the bot's side; nothing was changed. "
                                                     "The error was logged; try again or ask the SRE team.")

    async def _card_action(self, turn_context: TurnContext) -> InvokeResponse:
        value = turn_context.activity.value
        action = value.get("action") if isinstance(value, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            return invoke.error(400, "BadRequest", "This card action is not an Action.Execute with a value.")
        verb, data = action.get("verb"), action.get("data")
        handler = self._verbs.get(verb) if isinstance(verb, str) else None
        if handler is None or not isinstance(data, dict) or not isinstance(data.get("planId"), str):
            await self.deps.record(None, person_of(turn_context.activity) or _ANON, AuditEventName.INVOKE_REFUSED,
                                   code=RefusalCode.BAD_REQUEST.value, verb=str(verb)[:40])
            return invoke.error(400, "BadRequest", "This card action is malformed (unknown verb or missing plan id).")
        if self._too_fast(turn_context.activity, str(verb)[:40]):
            return invoke.error(429, "TooManyRequests", TOO_FAST)
        try:  # every verb, refresh included: the person's own tenant and role
            person = await self.people.who(turn_context)
        except Refusal as r:
            claimed = person_of(turn_context.activity)
            await self.deps.record(None, claimed or _ANON, AuditEventName.INVOKE_REFUSED, code=r.code.value, verb=str(verb)[:40])
            if verb == VERB_REFRESH:
                return invoke.message(PLAN_UNAVAILABLE)  # no hint whether the plan exists
            if claimed is None:
                return invoke.error(403, "Forbidden", "I can only act for people signed in with a work account.")
            return invoke.message(r.message)
        return await handler(turn_context, person, data)

    async def _approve(self, turn_context: TurnContext, person: Person, data: dict[str, Any]) -> InvokeResponse:
        decision = await decide_consent(self.deps, data["planId"], person, True, str(data.get("planHash", "")))
        return await self._after_click(decision, person)

    async def _deny(self, turn_context: TurnContext, person: Person, data: dict[str, Any]) -> InvokeResponse:
        reason = data.get("reason")
        reason = _clip(reason, 500) if isinstance(reason, str) and reason.strip() else None
        decision = await decide_consent(self.deps, data["planId"], person, False, str(data.get("planHash", "")), reason)
        return await self._after_click(decision, person)

    async def _after_click(self, decision: Decision, person: Person) -> InvokeResponse:
        """The card as the clicker now sees it; a refusal is shown to them only (an invoke error for bad card data)."""
        refusal = decision.refusal
        if refusal is None and decision.plan is not None:
            return invoke.card(self.card_for(decision.plan, await self._viewer(decision.plan, person)))
        if refusal is not None and refusal.code in (RefusalCode.STALE_CARD, RefusalCode.BAD_REQUEST):
            return invoke.error(400, refusal.code.value, refusal.message)
        return invoke.message(decision.message)

    async def _viewer(self, plan: Plan, person: Person) -> Viewer:
        """Buttons for the people the plan waits for (one rule: domain/permissions.py), a read-only card for others."""
        return Viewer(can_act=True) if await self.deps.may_see_buttons(plan, person) else READ_ONLY

    async def _refresh(self, turn_context: TurnContext, person: Person, data: dict[str, Any]) -> InvokeResponse:
        plan = await self.deps.store.get(data["planId"])
        if plan is None or not _shown_in(plan, turn_context.activity):
            # the same answer for a plan that does not exist and one posted elsewhere: ids reveal nothing
            return invoke.message(PLAN_UNAVAILABLE)
        return invoke.card(self.card_for(plan, await self._viewer(plan, person)))

    async def _grant(self, turn_context: TurnContext, person: Person, data: dict[str, Any]) -> InvokeResponse:
        value = turn_context.activity.value
        auth = value.get("authentication") if isinstance(value, dict) else None
        token = auth.get("token") if isinstance(auth, dict) else None
        token = token if isinstance(token, str) and token else None
        state = value.get("state") if isinstance(value, dict) else None
        if token is None and isinstance(state, str) and state:
            # the sign-in fallback: the person signed in through the token service's link; Teams sends the
            # magic code, which the token service trades for the connection's token (checked like an SSO token)
            token = await self._token_for_code(turn_context, state)
            if token is None:
                await self.deps.record(await self.deps.store.get(data["planId"]), person,
                                       AuditEventName.CREDENTIALS_REFUSED, code=CredentialProblemKind.INVALID_AUTH_CODE.value,
                                       reason="the sign-in code did not match a sign-in")
                return invoke.invalid_auth_code()
        decision = await grant_credentials(self.deps, data["planId"], person, str(data.get("planHash", "")),
                                           token, self.sso_verify)
        if decision.needs_sign_in:
            o = self.options
            link = await self._sign_in_link(turn_context)
            if link is None:
                return invoke.error(503, "SignInUnavailable", "I could not get a sign-in link from the Bot Framework "
                                                              "token service; nothing was changed. Try again in a minute.")
            return invoke.login_request(o.connection_name, data["planId"], o.sso_app_id_uri, link)
        if decision.retry_sso:
            return invoke.precondition_failed(decision.message)
        return await self._after_click(decision, person)

    def _token_client(self, turn_context: TurnContext) -> UserTokenClient | None:
        client = turn_context.turn_state.get(CloudAdapterBase.USER_TOKEN_CLIENT_KEY)
        return client if isinstance(client, UserTokenClient) else None

    async def _sign_in_link(self, turn_context: TurnContext) -> str | None:
        """The token service's sign-in link for the OAuth connection (Teams shows it when SSO is not possible)."""
        client = self._token_client(turn_context)
        if client is None:
            return None
        try:
            resource = await client.get_sign_in_resource(self.options.connection_name, turn_context.activity, None)
        except Exception:
            log.exception("the Bot Framework token service gave no sign-in link")
            return None
        link = getattr(resource, "sign_in_link", None)
        return link if isinstance(link, str) and link else None

    async def _token_for_code(self, turn_context: TurnContext, code: str) -> str | None:
        client, activity = self._token_client(turn_context), turn_context.activity
        if client is None or not activity.from_property or not activity.from_property.id:
            return None
        try:
            response = await client.get_user_token(activity.from_property.id, self.options.connection_name,
                                                   activity.channel_id, code[:64])
        except Exception:
            log.exception("the Bot Framework token service did not answer for a sign-in code")
            return None
        token = getattr(response, "token", None)
        if not isinstance(token, str) or not token:
            return None
        try:  # the bot holds the token only for this grant: the token service need not keep it either
            await client.sign_out_user(activity.from_property.id, self.options.connection_name, activity.channel_id)
        except Exception:
            log.warning("could not sign the user out of the token service after the grant", exc_info=True)
        return token

    async def _cancel(self, turn_context: TurnContext, person: Person, data: dict[str, Any]) -> InvokeResponse:
        decision = await cancel_credentials(self.deps, data["planId"], person, str(data.get("planHash", "")))
        return await self._after_click(decision, person)


_ANON = Person(object_id="unknown", name="unknown", tenant_id="")
TOO_FAST = ("You are sending commands faster than I can safely act on them; wait a minute and try again. "
            "Nothing was done.")
PLAN_UNAVAILABLE = ("This plan is not available here: it does not exist, has been removed, or belongs to another "
                    "conversation. Nothing was changed; look for the card in the conversation where it was posted.")


def _shown_in(plan: Plan, activity: Any) -> bool:
    """True if the plan's card was posted in the conversation (any thread of it) this activity comes from."""
    if plan.thread is None or activity.conversation is None:
        return False
    here = str(activity.conversation.id).split(";messageid=")[0]
    return plan.thread.conversation_id.split(";messageid=")[0] == here


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
