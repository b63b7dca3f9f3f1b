"""Carry out an approved plan, action by action, and tell the thread how it ended."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from ..domain import transitions
from ..domain.audit import AuditEventName
from ..domain.errors import ConcurrentUpdate, Refusal
from ..domain.plan import AccessDenied, ActingIdentity, ActionOutcome, Person, Plan, PlanState
from ..ports import Credential, RunResult, RunStatus
from .deps import Deps
from .results import result_text, run_detail

log = logging.getLogger(__name__)
AGENT = Person(object_id="agent", name="the agent", tenant_id="")
PROGRESS_EVERY = 2.0  # seconds between card updates while an action runs (Teams rate limits per thread)


async def run_plan(deps: Deps, plan_id: str) -> Plan | None:
    """APPROVED -> EXECUTING with the agent identity; only the caller that wins the compare-and-set runs it."""
    plan = await deps.store.get(plan_id)
    if plan is None or plan.state is not PlanState.APPROVED:
        return plan
    try:
        plan = await deps.commit(plan, transitions.start(plan, deps.clock.now()), AGENT, AuditEventName.EXECUTION_STARTED,
                                 identity="agent", acting=ActingIdentity.AGENT.value)
    except (ConcurrentUpdate, Refusal):
        return await deps.store.get(plan_id)  # another task or instance is running it
    await deps.notifier.update_card(plan)
    return await execute_actions(deps, plan, deps.broker.agent(), AGENT)


async def execute_actions(deps: Deps, plan: Plan, credential: Credential, acting: Person) -> Plan:
    """Run the remaining actions in order with `credential`; the first refusal or failure stops the plan."""
    who = ActingIdentity.AGENT if acting is AGENT else ActingIdentity.USER
    identity = who.describe(acting.name)
    while plan.state in (PlanState.EXECUTING, PlanState.EXECUTING_AS_USER) and plan.next_action < len(plan.actions):
        action = plan.actions[plan.next_action]
        described = action.describe()
        started = deps.clock.now()
        plan = await _progress(deps, plan, f"{described}: sent to Azure")
        last_update = time.monotonic()

        async def progress(text: str, described: str = described) -> None:
            nonlocal plan, last_update
            if time.monotonic() - last_update >= PROGRESS_EVERY:
                last_update = time.monotonic()
                plan = await _progress(deps, plan, f"{described}: {text}")

        try:
            result = await deps.runner.run(action, credential, progress)
        except Exception as e:  # the runner maps Azure errors; anything else must still end the plan cleanly
            log.exception("unexpected error while running %s", action.describe())
            result = RunResult(RunStatus.FAILED, f"Unexpected error in the bot ({type(e).__name__}); the action may not have completed.")
        outcome = ActionOutcome(plan.next_action, result.status.value, identity, run_detail(action, result), started,
                                deps.clock.now())
        if result.power_state:
            plan = replace(plan, power_states={**plan.power_states, action.resource.id.lower(): result.power_state})
        plan = await _record_outcome(deps, plan, outcome, result.access_denied, acting, who)
    await deps.notifier.update_card(plan)
    if plan.state.is_terminal or plan.state is PlanState.AWAITING_CREDENTIALS:
        await deps.notifier.reply(plan, result_text(plan))
    return plan


async def _record_outcome(deps: Deps, plan: Plan, outcome: ActionOutcome, denied: AccessDenied | None,
                          acting: Person, who: ActingIdentity) -> Plan:
    now = deps.clock.now()
    if outcome.status == RunStatus.SUCCEEDED:
        after = transitions.action_succeeded(plan, outcome)
        event = AuditEventName.ACTION_SUCCEEDED
    elif outcome.status == RunStatus.REFUSED and denied is not None:
        if plan.state is PlanState.EXECUTING:
            after, event = transitions.agent_refused(plan, denied, outcome, now), AuditEventName.AGENT_REFUSED
        else:
            after, event = transitions.user_refused(plan, denied, outcome, now), AuditEventName.USER_REFUSED
    else:
        after, event = transitions.action_failed(plan, outcome, now), AuditEventName.ACTION_FAILED
    detail = {"action": plan.actions[outcome.index].describe(), "identity": outcome.identity, "acting": who.value,
              "result": outcome.detail,
              "seconds": f"{(outcome.finished_at - outcome.started_at).total_seconds():.3f}"}
    return await _commit_retrying(deps, plan, after, acting, event, detail)


async def _commit_retrying(deps: Deps, plan: Plan, after: Plan, actor: Person, event: AuditEventName,
                           detail: dict[str, str]) -> Plan:
    """The executor owns the plan while it runs; a lost race can only be a progress write, so re-apply on top."""
    try:
        return await deps.commit(plan, after, actor, event, **detail)
    except ConcurrentUpdate:
        current = await deps.store.get(plan.id)
        assert current is not None
        merged = replace(after, version=current.version)
        return await deps.commit(current, merged, actor, event, **detail)


async def _progress(deps: Deps, plan: Plan, text: str) -> Plan:
    """Show progress on the card; progress is best effort and never stops the run."""
    try:
        plan = await deps.store.save(transitions.report_progress(plan, text), expected_version=plan.version)
    except (ConcurrentUpdate, Refusal):
        fresh = await deps.store.get(plan.id)
        return fresh or plan
    try:
        await deps.notifier.update_card(plan)
    except Exception:
        log.warning("could not update the card of plan %s with progress", plan.id, exc_info=True)
    return plan

