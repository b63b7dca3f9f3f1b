"""Reminders and escalation as data (domain/follow_up.py, nudges.py) and settings (config/follow_up.py): when each step
is due, who may set which times, and what is refused with which words."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.domain.follow_up import Escalation, FollowUp, FollowUpLoosened, for_caller, parse_own, shortened
from bot.domain.incident import parse_response_plans
from bot.domain.nudges import Step, approver_groups, approver_ids, due, take, warn_at
from bot.domain.scope import Scope

from .factories import NOW, SUB, every_state
from .test_config import GOOD

DAVE = "d0d0d0d0-0000-0000-0000-000000000004"
LEADS = "9a9a9a9a-0000-0000-0000-00000000000a"
BASE = FollowUp(timedelta(minutes=10), timedelta(minutes=20), Escalation(frozenset({DAVE})))
STATES = every_state()


def waiting(follow_up: FollowUp = BASE, state: str = "awaiting_consent") -> Any:
    return replace(STATES[state], follow_up=follow_up)


def test_each_step_is_due_at_its_time_in_order_and_once() -> None:
    plan = waiting()
    assert due(plan, NOW + timedelta(minutes=9, seconds=59)) == []
    assert due(plan, NOW + timedelta(minutes=10)) == [Step.REMIND]
    assert due(plan, NOW + timedelta(minutes=25)) == [Step.REMIND, Step.ESCALATE, Step.WARN]  # late: all, in order
    reminded = take(plan, Step.REMIND, NOW + timedelta(minutes=10))
    assert due(reminded, NOW + timedelta(minutes=19)) == []
    escalated = take(reminded, Step.ESCALATE, NOW + timedelta(minutes=20))
    assert due(escalated, NOW + timedelta(minutes=24)) == []
    assert due(escalated, NOW + timedelta(minutes=25)) == [Step.WARN]  # five minutes before its expiry at 30
    with pytest.raises(Exception, match="not due"):
        take(escalated, Step.ESCALATE, NOW + timedelta(minutes=26))


def test_nothing_is_due_for_a_plan_that_does_not_wait_or_has_expired() -> None:
    for name in ("approved", "executing", "succeeded", "denied", "expired"):
        assert due(waiting(state=name), NOW + timedelta(hours=1)) == []
    assert due(waiting(), NOW + timedelta(minutes=30)) == []  # the expiry sweep's, not a reminder's


def test_a_short_wait_is_warned_when_a_fifth_of_it_is_left() -> None:
    plan = replace(waiting(FollowUp()), expires_at=NOW + timedelta(minutes=10))
    assert warn_at(plan) == NOW + timedelta(minutes=8)


def test_the_credentials_wait_is_counted_from_azures_refusal_and_reminded_again() -> None:
    plan = waiting(state="awaiting_credentials")  # refused at NOW, credentials expire 15 minutes later
    reminded_for_consent = replace(plan, follow_up=replace(BASE, reminded_at=NOW - timedelta(minutes=1)))
    assert due(reminded_for_consent, NOW + timedelta(minutes=9)) == []
    assert due(reminded_for_consent, NOW + timedelta(minutes=10)) == [Step.REMIND]
    assert due(reminded_for_consent, NOW + timedelta(minutes=12)) == [Step.REMIND, Step.WARN]  # a fifth of 15 minutes left


def test_escalation_approvers_join_only_once_the_plan_escalated() -> None:
    to = Escalation(frozenset({DAVE}), LEADS)
    plan = waiting(replace(BASE, escalate_to=to))
    assert approver_ids(plan) == plan.policy.approvers and approver_groups(plan) == ()
    escalated = take(take(plan, Step.REMIND, NOW + timedelta(minutes=20)), Step.ESCALATE, NOW + timedelta(minutes=20))
    assert approver_ids(escalated) == plan.policy.approvers | {DAVE} and approver_groups(escalated) == (LEADS,)
    assert escalated.content_hash == plan.content_hash  # cards already shown stay valid: the actions did not change


def test_an_api_caller_may_only_shorten_the_times() -> None:
    errors: list[tuple[str, str]] = []

    def err(field: str, message: str) -> None:
        errors.append((field, message))

    assert for_caller(BASE, {"remindAfterMinutes": 2, "escalateAfterMinutes": 5}, err) == replace(
        BASE, remind_after=timedelta(minutes=2), escalate_after=timedelta(minutes=5)
    )
    assert for_caller(BASE, {}, err) == BASE and errors == []
    assert for_caller(BASE, {"remindAfterMinutes": 11, "escalateAfterMinutes": "soon"}, err) is None
    assert [f for f, _ in errors] == ["escalateAfterMinutes"]  # the malformed one first: nothing else is judged
    errors.clear()
    assert for_caller(BASE, {"remindAfterMinutes": 11, "escalateAfterMinutes": 21}, err) is None
    assert errors == [
        ("remindAfterMinutes", "more than 0 and at most 10 minutes (the configured time)"),
        ("escalateAfterMinutes", "more than 0 and at most 20 minutes (the configured time)"),
    ]
    with pytest.raises(FollowUpLoosened, match="escalation is off"):
        shortened(FollowUp(timedelta(minutes=10)), escalate_after=timedelta(minutes=1))
    with pytest.raises(FollowUpLoosened, match="reminders are off"):
        shortened(FollowUp(), remind_after=timedelta(minutes=1))


def test_a_response_plan_sets_its_own_schedule_or_keeps_the_configured_one() -> None:
    def plans(**own: Any) -> list[Any]:
        item = {
            "name": "web",
            "match": {"alertRules": ["*"]},
            "operation": "restart",
            "channel": {"id": "19:c@thread.tacv2"},
            "responders": [DAVE],
            "scopes": [f"/subscriptions/{SUB}"],
            **own,
        }
        return parse_response_plans({"responsePlans": [item]}, "https://smba.example/", "t", (Scope(SUB),), BASE)

    assert plans()[0].follow_up is None
    [rp] = plans(remindAfterMinutes=2, escalateAfterMinutes=60, escalateTo={"group": LEADS})
    assert rp.follow_up == FollowUp(timedelta(minutes=2), timedelta(minutes=60), Escalation(group=LEADS))
    assert plans(remindAfterMinutes=0)[0].follow_up.remind_after is None  # 0: never
    with pytest.raises(ValueError, match="response plan 'web': escalateTo must list Entra object ids"):
        plans(escalateTo=["not-an-id"])
    with pytest.raises(ValueError, match="remindAfterMinutes must be a number of minutes"):
        plans(remindAfterMinutes="ten")


def test_a_response_plan_cannot_escalate_to_nobody() -> None:
    with pytest.raises(ValueError, match="escalateAfterMinutes needs someone to escalate to"):
        parse_own({"escalateAfterMinutes": 5}, FollowUp(), "response plan 'web'")


def test_settings_default_to_a_reminder_at_ten_minutes_and_no_escalation() -> None:
    s = Settings.from_env(GOOD)
    assert s.follow_up.schedule == FollowUp(timedelta(minutes=10))
    assert s.follow_up.channel("https://smba.example/", "t") is None
    fast = Settings.from_env(
        {
            **GOOD,
            "REMIND_AFTER_MINUTES": "0.05",
            "ESCALATE_AFTER_MINUTES": "0.1",
            "ESCALATION_APPROVERS": DAVE,
            "ESCALATION_CHANNEL": "19:e@thread.tacv2",
        }
    )
    assert fast.follow_up.schedule == FollowUp(timedelta(seconds=3), timedelta(seconds=6), Escalation(frozenset({DAVE})))
    assert fast.follow_up.channel("https://smba.example/", "t") is not None
    assert Settings.from_env({**GOOD, "REMIND_AFTER_MINUTES": "0"}).follow_up.schedule.remind_after is None


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"ESCALATE_AFTER_MINUTES": "5"}, "ESCALATION_APPROVERS or ESCALATION_GROUP_ID is required when ESCALATE_AFTER_MINUTES=5"),
        ({"ESCALATION_CHANNEL": "general"}, "ESCALATION_CHANNEL='general' is invalid: expected a Teams channel id"),
        ({"REMIND_AFTER_MINUTES": "soon"}, "REMIND_AFTER_MINUTES='soon' is invalid: expected a number"),
        ({"ESCALATION_APPROVERS": "dave"}, "ESCALATION_APPROVERS='dave' is invalid: expected a GUID"),
    ],
)
def test_bad_follow_up_settings_name_themselves(override: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({**GOOD, **override})
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems
