"""Carry out an approved plan, action by action, and tell the thread how it ended."""

from __future__ import annotations

import logging
from dataclasses import replace

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import EXECUTING_STATES, AccessDenied, ActingIdentity, ActionOutcome, Person, Plan, PlannedAction, PlanState
from ..ports import AzureProblem, Credential, RunResult, RunStatus
from .deps import Deps
from .planning import state_now, still_as_shown
from .results import result_text, run_detail

log = logging.getLogger(__name__)
AGENT = Person(object_id="agent", name="the agent", tenant_id="")
MAX_ATTEMPTS = 20  # each retry means a concurrent write (a card's activity id being recorded, an interruption)
PROGRESS_EVERY = 2.0  # seconds between card updates while an action runs (Teams rate limits per thread)


async def run_plan(deps: Deps, plan_id: str) -> Plan | None:
    """APPROVED -> EXECUTING with the agent identity; only the caller that wins the compare-and-set runs it."""
    plan = await deps.store.get(plan_id)
    if plan is None or plan.state is not PlanState.APPROVED:
        return plan
    try:
        plan = await deps.commit(
            plan,
            transitions.start(plan, deps.clock.now()),
            AGENT,
            AuditEventName.EXECUTION_STARTED,
            card=True,
            identity="agent",
            acting=ActingIdentity.AGENT.value,
        )
    except (ConcurrentUpdate, Refusal):
        return await deps.store.get(plan_id)  # another task or instance is running it
    return await execute_actions(deps, plan, deps.broker.agent(), AGENT)


async def execute_actions(deps: Deps, plan: Plan, credential: Credential, acting: Person) -> Plan:
    """Run the remaining actions in order with `credential`; the first refusal or failure stops the plan.

    The plan is read again before each action: as soon as it is no longer executing (interrupted by another
    instance, say) nothing more is sent to Azure. Each outcome is committed through the state machine with the card
    update (and, when the plan ends or needs credentials, the reply) in the same unit of work.
    """
    who = ActingIdentity.AGENT if acting is AGENT else ActingIdentity.USER
    identity = who.describe(acting.name)
    executing = plan.state
    while True:
        current = await deps.store.get(plan.id)
        if current is None or current.state is not executing or current.next_action != plan.next_action:
            if current is not None and current.version != plan.version:
                log.warning(
                    "plan %s moved to %s under its execution; nothing more is run", plan.id, current.state.value, extra={"plan_id": plan.id}
                )
            return current or plan
        plan = current
        if plan.next_action >= len(plan.actions):
            return plan
        action = plan.actions[plan.next_action]
        started = deps.clock.now()
        plan, result = await _run_one(deps, plan, action, credential)
        if result is None:
            return plan
        outcome = ActionOutcome(plan.next_action, result.status.value, identity, run_detail(action, result), started, deps.clock.now())
        plan = await _record_outcome(deps, plan, outcome, result, acting, who)
        if plan.state is not executing:
            return plan


async def _run_one(deps: Deps, plan: Plan, action: PlannedAction, credential: Credential) -> tuple[Plan, RunResult | None]:
    """Read the resource again, then send the action's request exactly as approved, unless what the card showed no
    longer holds: then nothing is written. None when the plan stopped executing meanwhile (nothing was sent)."""
    executing, described = plan.state, action.describe()
    try:
        if changed := await still_as_shown(deps, plan, plan.next_action):
            return plan, RunResult(RunStatus.FAILED, changed, problem=AzureProblem.STATE_CHANGED)
    except Exception as e:  # the runner's reads map Azure's errors; anything else must still end the plan cleanly
        log.exception("unexpected error while reading the state of %s", described)
        return plan, RunResult(RunStatus.FAILED, f"Unexpected error in the bot ({type(e).__name__}) before anything was sent.")
    plan = await _progress(deps, plan, f"{described}: sent to Azure")
    if plan.state is not executing:
        return plan, None
    last_update = deps.clock.now()

    async def progress(text: str) -> None:
        nonlocal plan, last_update
        line = f"{described}: {text}"
        # the same line again ("Azure reports InProgress" at every poll) would be a card update saying nothing:
        # with many plans running, such updates alone would spend the bot's Teams rate limits
        if line != plan.progress and (deps.clock.now() - last_update).total_seconds() >= PROGRESS_EVERY:
            last_update = deps.clock.now()
            plan = await _progress(deps, plan, line)

    try:
        result = await deps.runner.run(action, credential, progress)
    except Exception as e:  # the runner maps Azure errors; anything else must still end the plan cleanly
        log.exception("unexpected error while running %s", described)
        return plan, RunResult(RunStatus.FAILED, f"Unexpected error in the bot ({type(e).__name__}); the action may not have completed.")
    tells = result.status is RunStatus.SUCCEEDED or result.problem in _STATE_TELLS  # what it is now says what happened
    if tells and (state := await state_now(deps, action.resource)):
        result = replace(result, state=state)
    return plan, result


_STATE_TELLS = (AzureProblem.OPERATION_NOT_ALLOWED, AzureProblem.CONFLICT, AzureProblem.OPERATION_FAILED)


async def _record_outcome(deps: Deps, plan: Plan, outcome: ActionOutcome, result: RunResult, acting: Person, who: ActingIdentity) -> Plan:
    """Commit the outcome over the plan as stored; a lost race re-reads and decides again through the state machine,
    so nothing is written over a newer state (an interrupted plan stays interrupted; the outcome is still audited)."""
    action = plan.actions[outcome.index]
    detail = {
        "action": action.describe(),
        "identity": outcome.identity,
        "acting": who.value,
        "result": outcome.detail,
        "seconds": f"{(outcome.finished_at - outcome.started_at).total_seconds():.3f}",
    }
    for _ in range(MAX_ATTEMPTS):
        if plan.state not in EXECUTING_STATES or plan.next_action != outcome.index:
            await deps.record(plan, acting, AuditEventName.OUTCOME_AFTER_STOP, None, **detail, state=plan.state.value)
            return plan
        if result.state:
            plan = replace(plan, observed={**plan.observed, action.resource.id.lower(): result.state})
        after, event = _decide(deps, plan, outcome, result.access_denied)
        ends = after.state.is_terminal or after.state is PlanState.AWAITING_CREDENTIALS
        try:
            return await deps.commit(plan, after, acting, event, card=True, reply=result_text(after) if ends else None, **detail)
        except ConcurrentUpdate:
            fresh = await deps.store.get(plan.id)
            if fresh is None:
                return plan
            plan = fresh
    raise RuntimeError(f"plan {plan.id}: the outcome of action {outcome.index} could not be stored")


def _decide(deps: Deps, plan: Plan, outcome: ActionOutcome, denied: AccessDenied | None) -> tuple[Plan, AuditEventName]:
    now = deps.clock.now()
    if outcome.status == RunStatus.SUCCEEDED:
        return transitions.action_succeeded(plan, outcome), AuditEventName.ACTION_SUCCEEDED
    if outcome.status == RunStatus.REFUSED and denied is not None:
        if plan.state is PlanState.EXECUTING:
            return transitions.agent_refused(plan, denied, outcome, now), AuditEventName.AGENT_REFUSED
        return transitions.user_refused(plan, denied, outcome, now), AuditEventName.USER_REFUSED
    return transitions.action_failed(plan, outcome, now), AuditEventName.ACTION_FAILED


async def _progress(deps: Deps, plan: Plan, text: str) -> Plan:
    """Show progress on the card (the update is queued with the write); a lost race returns the plan as stored."""
    try:
        return await deps.commit_quietly(plan, transitions.report_progress(plan, text))
    except (ConcurrentUpdate, Refusal):
        fresh = await deps.store.get(plan.id)
        return fresh or plan
