"""The card clicks: each Action.Execute verb answered by one handler (registered on the router)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ...domain import messages
from ...domain.audit import AuditEventName
from ...domain.errors import CredentialProblemKind, RefusalCode
from ...domain.plan import Person, Plan
from ...services.decide_consent import decide_consent
from ...services.grant_credentials import cancel_credentials, grant_credentials
from ...services.propose_again import propose_again
from .answers import Answer, CardAnswer, ErrorAnswer, InvalidAuthCode, LoginRequest, MessageAnswer, PreconditionFailed
from .clicks import CardClick, Verb
from .routes import ROUTER
from .turn import Incoming, Turn

if TYPE_CHECKING:
    from .core import Conversation

log = logging.getLogger(__name__)


@ROUTER.verb(Verb.APPROVE)
async def _approve(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    return await c.after_click(await decide_consent(c.deps, click.plan_id, person, True, click.plan_hash, read=click.read), person)


@ROUTER.verb(Verb.DENY)
async def _deny(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    decision = await decide_consent(c.deps, click.plan_id, person, False, click.plan_hash, click.reason, read=click.read)
    return await c.after_click(decision, person)


@ROUTER.verb(Verb.REFRESH)
async def _refresh(c: Conversation, turn: Turn, person: Person, click: CardClick) -> Answer:
    plan = click.read or await c.deps.store.get(click.plan_id)
    if plan is None:  # the same answer as for a plan posted elsewhere (Conversation checks that): ids reveal nothing
        return MessageAnswer(messages.PLAN_UNAVAILABLE)
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
    if await c.deps.store.get(click.plan_id) is None:
        return MessageAnswer(messages.PLAN_UNAVAILABLE)
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


def shown_in(plan: Plan, incoming: Incoming) -> bool:
    """True if the plan's card was posted in the conversation (any thread of it) this activity comes from: a click
    on any verb counts only there (Conversation checks it before routing)."""
    if plan.thread is None or not incoming.conversation_id:
        return False
    return plan.thread.conversation_id.split(";messageid=")[0] == incoming.conversation_root
