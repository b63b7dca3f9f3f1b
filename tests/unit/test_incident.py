"""Parsing Azure Monitor alerts and response plans."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, Settings
from bot.domain.card_times import card_time_of
from bot.domain.incident import parse_alert, parse_response_plans
from bot.domain.plan import Mode, Operation
from bot.domain.scope import parse_scopes
from cards.incident_card import incident_card
from sandbox.monitor import alert_payload
from sandbox.world import VirtualMachine

from .card_schema import validate_card
from .test_cards import _check_snapshot

VM = VirtualMachine("00000000-0000-0000-0000-0000000000aa", "prod-rg", "web-01")
PLANS = {
    "responsePlans": [
        {
            "name": "web-hung",
            "match": {"alertRules": ["Web * unresponsive*"], "severities": ["Sev1"]},
            "operation": "restart",
            "mode": "autonomous",
            "channel": {"id": "19:c@thread.tacv2"},
            "responders": ["a1a1a1a1-0000-0000-0000-000000000001"],
            "scopes": ["/subscriptions/00000000-0000-0000-0000-0000000000aa"],
        }
    ]
}
ALLOWED = parse_scopes(["/subscriptions/00000000-0000-0000-0000-0000000000aa"])


def test_common_schema_alert_parses_with_lower_cased_targets() -> None:
    alert = parse_alert(alert_payload("Web tier unresponsive", [VM]))
    assert (alert.rule, alert.severity, alert.condition) == ("Web tier unresponsive", "Sev1", "Fired")
    (target,) = alert.vm_targets()
    assert (target.resource_group, target.name) == ("prod-rg", "web-01")


def test_bad_alert_lists_every_problem() -> None:
    with pytest.raises(ValueError) as e:
        parse_alert({"schemaId": "x", "data": {"essentials": {"severity": "Sev7", "alertTargetIDs": "nope"}}})
    for words in ("schemaId", "alertId", "alertRule", "severity", "monitorCondition", "alertTargetIDs"):
        assert words in str(e.value)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
        max_leaves=20,
    )
)
def test_any_json_either_parses_or_is_a_value_error(payload: object) -> None:
    with contextlib.suppress(ValueError):  # any other exception fails the test
        parse_alert(payload)


def test_response_plan_matches_rule_pattern_and_severity() -> None:
    (plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    assert (plan.operation, plan.mode) == (Operation.RESTART, Mode.AUTONOMOUS)
    assert plan.matches(parse_alert(alert_payload("Web tier unresponsive for 5 min", [VM], severity="Sev1")))
    assert not plan.matches(parse_alert(alert_payload("Web tier unresponsive", [VM], severity="Sev3")))
    assert not plan.matches(parse_alert(alert_payload("High CPU", [VM], severity="Sev1")))


def test_bad_response_plans_file_stops_start_up_naming_the_plan(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(PLANS))
    broken["responsePlans"][0]["mode"] = "yolo"
    path = tmp_path / "plans.json"
    path.write_text(json.dumps(broken))
    env = {
        "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
        "DEFAULT_SUBSCRIPTION_ID": VM.subscription_id,
        "RESPONSE_PLANS_FILE": str(path),
        "SSL_CERT_FILE": "",
        "REQUESTS_CA_BUNDLE": "",
    }
    with pytest.raises(ConfigError, match="response plan 'web-hung': mode must be review or autonomous"):
        Settings.from_env(env)
    with pytest.raises(ConfigError, match="cannot read it"):
        Settings.from_env({**env, "RESPONSE_PLANS_FILE": str(tmp_path / "missing.json")})


def test_incident_card_snapshot_and_schema() -> None:
    (plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    alert = parse_alert(alert_payload("Web tier unresponsive", [VM], alert_id="alert-1", description="p95 latency over 30 s"))
    card = incident_card(alert, plan)
    assert validate_card(card) == []
    shown = card_time_of(alert.fired_at)  # the card shows it through Adaptive Card DATE/TIME functions
    assert "{{DATE(" in shown and alert.fired_at not in json.dumps(card)  # never the raw ISO string
    card_no_time = json.loads(json.dumps(card).replace(shown, card_time_of("2026-11-24T09:00:00+00:00")))
    _check_snapshot("incident-autonomous", card_no_time)


def test_response_plan_declares_scopes_inside_allowed_scopes_and_a_target_cap() -> None:
    (plan,) = parse_response_plans(PLANS, "https://smba.example/", "t", ALLOWED)
    assert [str(s) for s in plan.scopes] == ["/subscriptions/00000000-0000-0000-0000-0000000000aa"]
    assert plan.max_targets == 5  # the default cap
    other = parse_scopes(["/subscriptions/00000000-0000-0000-0000-0000000000bb"])
    with pytest.raises(ValueError, match="scope /subscriptions/00000000-0000-0000-0000-0000000000aa is outside ALLOWED_SCOPES"):
        parse_response_plans(PLANS, "https://smba.example/", "t", other)
    unscoped = json.loads(json.dumps(PLANS))
    del unscoped["responsePlans"][0]["scopes"]
    with pytest.raises(ValueError, match="scopes must list"):
        parse_response_plans(unscoped, "https://smba.example/", "t", ALLOWED)
    capped = json.loads(json.dumps(PLANS))
    capped["responsePlans"][0]["maxTargets"] = 0
    with pytest.raises(ValueError, match="maxTargets"):
        parse_response_plans(capped, "https://smba.example/", "t", ALLOWED)


def test_alert_targets_breaking_azure_naming_rules_are_left_out() -> None:
    payload = alert_payload("Web tier unresponsive", [VM])
    sub = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
    payload["data"]["essentials"]["alertTargetIDs"] += [
        f"{sub}/resourcegroups/../providers/microsoft.compute/virtualmachines/x",
        f"{sub}/resourcegroups/prod-rg/providers/microsoft.compute/virtualmachines/..",
        f"{sub}/resourcegroups/prod-rg/providers/microsoft.compute/virtualmachines/a%2f..",
    ]
    assert [t.name for t in parse_alert(payload).vm_targets()] == ["web-01"]
