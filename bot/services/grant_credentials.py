"""Lend a user's rights to a refused plan: verify the SSO token, exchange it On-Behalf-Of, run, release.

The SSO token and the credential built from it live only in this module's locals and in the one
background task that runs the remaining actions; they are never stored, audited or logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from ..domain import messages, transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, CredentialProblem, Refusal, RefusalCode
from ..domain.permissions import PlanAction
from ..domain.plan import ActingIdentity, Person, Plan
from ..ports import Credential
from .decide_consent import Decision
from .deps import Deps
from .results import result_text
from .run_plan import execute_actions

SsoVerify = Callable[[str, Person], Awaitable[None]]


async def _check_grantor(deps: Deps, plan_id: str, person: Person, seen_hash: str, action: PlanAction) -> Plan:
    """The plan, if `person` may answer its credentials request now; Refusal otherwise."""
    plan = await deps.store.get(plan_id)
    if plan is None:
        raise Refusal(RefusalCode.NOT_FOUND, messages.no_plan(plan_id))
    deps.check_tenant(person)
    transitions.check_can_answer_credentials(plan, person, seen_hash, deps.clock.now(), await deps.is_approver(plan, person), action)
    return plan


async def grant_credentials(deps: Deps, plan_id: str, person: Person, seen_hash: str, sso_token: str | None, verify: SsoVerify) -> Decision:
    """Answer a "Use my credentials" click; without a token, ask Teams for one (SSO)."""
    try:
        plan = await _check_grantor(deps, plan_id, person, seen_hash, PlanAction.GRANT)
    except Refusal as r:
        await deps.record(
            None if r.code is RefusalCode.NOT_FOUND else await deps.store.get(plan_id),
            person,
            AuditEventName.CREDENTIALS_REFUSED,
            code=r.code.value,
            reason=r.message,
        )
        return Decision(None, r.message, r)
    if sso_token is None:
        return Decision(plan, "Sign-in needed", needs_sign_in=True)
    stack = AsyncExitStack()
    try:
        await verify(sso_token, person)
        credential: Credential = await stack.enter_async_context(deps.broker.for_user(sso_token))
        await deps.broker.check(credential)
    except CredentialProblem as p:
        await stack.aclose()
        await deps.record(plan, person, AuditEventName.CREDENTIALS_REFUSED, code=p.kind.value, reason=p.message)
        refusal = Refusal(RefusalCode.BAD_REQUEST if p.kind == CredentialProblem.REJECTED else RefusalCode.WRONG_STATE, p.message)
        return Decision(plan, p.message, refusal, retry_sso=p.kind == CredentialProblem.EXPIRED)
    granted = await _commit_grant(deps, plan, person)
    if granted is None:
        await stack.aclose()
        await deps.record(plan, person, AuditEventName.CREDENTIALS_RELEASED, reason="another grant or cancel came first")
        fresh = await deps.store.get(plan_id)
        message = transitions.already_message(fresh) if fresh else messages.NO_LONGER_EXISTS
        return Decision(fresh, message, Refusal(RefusalCode.ALREADY_DECIDED, message))

    plan = granted

    async def run_then_release() -> None:
        try:
            await execute_actions(deps, plan, credential, person)
        finally:
            await stack.aclose()
            await deps.record(plan, person, AuditEventName.CREDENTIALS_RELEASED)

    deps.tasks.spawn(run_then_release, name=f"run {plan.id} as user")
    return Decision(plan, messages.running_on_behalf(person.name))


async def _commit_grant(deps: Deps, plan: Plan, person: Person) -> Plan | None:
    """EXECUTING_AS_USER with `person`'s rights, or None when another grant or a cancel came first. A write that left
    the plan waiting for credentials (a reminder, the card's activity id recorded) is not an answer: grant again."""
    for _ in range(10):
        try:
            return await deps.commit(
                plan,
                transitions.grant_credentials(plan, person, deps.clock.now()),
                person,
                AuditEventName.CREDENTIALS_USED,
                card=True,
                identity=ActingIdentity.USER.describe(person.name),
                acting=ActingIdentity.USER.value,
            )
        except Refusal:
            return None
        except ConcurrentUpdate:
            fresh = await deps.store.get(plan.id)
            if fresh is None or fresh.state is not plan.state or fresh.content_hash != plan.content_hash:
                return None
            plan = fresh
    return None


async def cancel_credentials(deps: Deps, plan_id: str, person: Person, seen_hash: str, reason: str | None = None) -> Decision:
    """Cancel on the credentials request: CREDENTIALS_DENIED, nothing more runs."""
    for _ in range(10):
        try:
            plan = await _check_grantor(deps, plan_id, person, seen_hash, PlanAction.CANCEL)
            after = transitions.cancel_credentials(plan, person, deps.clock.now(), reason)
        except Refusal as r:
            await deps.record(
                await deps.store.get(plan_id), person, AuditEventName.CREDENTIALS_REFUSED, code=r.code.value, reason=r.message
            )
            return Decision(None, r.message, r)
        try:
            saved = await deps.commit(
                plan,
                after,
                person,
                AuditEventName.CREDENTIALS_DECLINED,
                card=True,
                reply=result_text(after),
                **({"reason": reason} if reason else {}),
            )
        except ConcurrentUpdate:
            continue
        return Decision(saved, messages.declined_line(saved))
    raise RuntimeError(f"plan {plan_id}: cancel could not be stored")
