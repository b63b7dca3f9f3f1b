"""Callers can only tighten the configured consent policy; API callers are registered with scopes and operations."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.domain.callers import find_caller, parse_api_callers
from bot.domain.consent import ConsentPolicy, PolicyLoosened, tightened
from bot.domain.operations import CATALOG, allowed
from bot.domain.plan import Operation
from bot.domain.scope import Scope

A, B, C = "a1a1a1a1-0000-0000-0000-000000000001", "b0b0b0b0-0000-0000-0000-000000000002", "c0c0c0c0-0000-0000-0000-000000000003"
BASE = ConsentPolicy(approvers=frozenset({A, B}), approvals_required=1, expiry=timedelta(minutes=30))
SUB = "00000000-0000-0000-0000-0000000000aa"


def _fields(**kw: object) -> list[str]:
    return _fields_of(BASE, **kw)


def test_nothing_asked_keeps_the_configured_policy() -> None:
    assert tightened(BASE) == BASE


def test_a_caller_may_narrow_approvers_raise_the_quorum_and_shorten_the_expiry() -> None:
    policy = tightened(BASE, approvers=frozenset({A}), expiry=timedelta(minutes=5))
    assert (policy.approvers, policy.approvals_required, policy.expiry) == ({A}, 1, timedelta(minutes=5))
    assert tightened(BASE, approvals_required=2).approvals_required == 2


def test_a_caller_may_never_loosen_it() -> None:
    assert _fields(approvers=frozenset({A, C})) == ["approvers"]
    assert _fields(approvals_required=3) == ["approvals_required"]  # more than there are approvers
    assert _fields(approvers=frozenset({A}), approvals_required=2) == ["approvals_required"]
    assert _fields(expiry=timedelta(minutes=31)) == ["expiry"]
    strict = ConsentPolicy(approvers=frozenset({A, B}), approvals_required=2)
    with pytest.raises(PolicyLoosened) as e:
        tightened(strict, approvals_required=1)
    assert e.value.problems[0][0] == "approvals_required" and "never lower" in e.value.problems[0][1]
    with pytest.raises(PolicyLoosened, match="approvers"):
        tightened(strict, approvers=frozenset({A}))  # one approver left for a quorum of two


def test_with_an_approver_group_only_no_approver_may_be_named() -> None:
    group_only = ConsentPolicy(approver_group="g")
    assert _fields_of(group_only, approvers=frozenset({A})) == ["approvers"]
    assert tightened(group_only, approvals_required=2).approvals_required == 2


def _fields_of(base: ConsentPolicy, **kw: object) -> list[str]:
    with pytest.raises(PolicyLoosened) as e:
        tightened(base, **kw)  # type: ignore[arg-type]
    return [f for f, _ in e.value.problems]


def _caller(**overrides: object) -> dict[str, object]:
    return {
        "appId": "11111111-2222-3333-4444-555555555555",
        "name": "SRE Agent",
        "scopes": [f"/subscriptions/{SUB}"],
        "operations": ["restart", "stop"],
        **overrides,
    }


def test_api_callers_parse_with_scopes_inside_allowed_scopes() -> None:
    (caller,) = parse_api_callers({"callers": [_caller()]}, [Scope(SUB)])
    assert [str(p) for p in caller.operations] == [
        "Microsoft.Compute/virtualMachines/restart",
        "Microsoft.Compute/virtualMachines/powerOff",
    ]
    assert [s for s in CATALOG if allowed(caller.operations, s)] == [Operation.RESTART, Operation.POWER_OFF]
    assert caller.display == "SRE Agent (app 11111111-2222-3333-4444-555555555555)"
    assert find_caller([caller], "11111111-2222-3333-4444-555555555555".upper()) is caller
    assert find_caller([caller], "99999999-2222-3333-4444-555555555555") is None
    assert caller.targets is None and caller.excluded_approvers == frozenset()


def test_a_caller_posts_only_into_its_targets_or_else_the_approvals_channel() -> None:
    ops, chat = "19:ops@thread.tacv2", "19:team-chat@thread.v2"
    (listed,) = parse_api_callers({"callers": [_caller(targets=[ops, chat])]}, [Scope(SUB)])
    assert listed.target_refusal(ops, "") is None and listed.target_refusal(f"{ops};messageid=17", "") is None
    assert listed.target_refusal(chat, "") is None
    assert "targets" in str(listed.target_refusal("a:alice-personal-chat", ops))
    assert listed.target_refusal("19:approvals@thread.tacv2", "19:approvals@thread.tacv2") is not None  # only its targets
    (unlisted,) = parse_api_callers({"callers": [_caller()]}, [Scope(SUB)])
    assert unlisted.target_refusal("19:approvals@thread.tacv2", "19:approvals@thread.tacv2") is None
    assert "APPROVALS_CHANNEL" in str(unlisted.target_refusal(ops, "19:approvals@thread.tacv2"))
    assert unlisted.target_refusal(ops, "") is not None  # no approvals channel: nowhere


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"appId": "sre-agent"}, "appId"),
        ({"name": ""}, "name"),
        ({"scopes": ["/subscriptions/00000000-0000-0000-0000-0000000000bb"]}, "outside ALLOWED_SCOPES"),
        ({"scopes": []}, "scopes"),
        ({"operations": ["delete"]}, "operations"),
        ({"targets": "19:ops@thread.tacv2"}, "targets"),
        ({"targets": ["general"]}, "targets"),
        ({"targets": ["19:ops@thread.tacv2;messageid=1"]}, "targets"),
        ({"excludedApprovers": ["alice"]}, "excludedApprovers"),
    ],
)
def test_bad_api_callers_are_refused_naming_the_entry(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_api_callers({"callers": [_caller(**overrides)]}, [Scope(SUB)])


def test_api_callers_file_setting(tmp_path: Path) -> None:
    env = {
        "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
        "DEFAULT_SUBSCRIPTION_ID": SUB,
        "SSL_CERT_FILE": "",
        "REQUESTS_CA_BUNDLE": "",
    }
    assert Settings.from_env(env).api.api_callers is None  # no file: no app may submit
    path = tmp_path / "callers.json"
    path.write_text(json.dumps({"callers": [_caller()]}))
    assert len(Settings.from_env({**env, "API_CALLERS_FILE": str(path)}).api.api_callers or ()) == 1
    path.write_text(json.dumps({"callers": [_caller(operations=[])]}))
    with pytest.raises(ConfigError, match=r"API_CALLERS_FILE=.* callers\[0\]: operations"):
        Settings.from_env({**env, "API_CALLERS_FILE": str(path)})
