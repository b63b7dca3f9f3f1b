"""Where the bot may act (ALLOWED_SCOPES) and Azure's naming rules: one rule for every entry point."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.names import resource_group_problem, vm_name_problem
from bot.domain.plan import ResourceRef
from bot.domain.scope import Scope, check_group_in_scope, check_in_scope, parse_scopes, select_targets, unique

SUB = "00000000-0000-0000-0000-0000000000aa"
OTHER = "00000000-0000-0000-0000-0000000000bb"
WEB01 = ResourceRef(SUB, "prod-rg", "web-01")
DEV01 = ResourceRef(SUB, "dev-rg", "dev-01")
ELSEWHERE = ResourceRef(OTHER, "prod-rg", "web-01")


def test_a_subscription_scope_holds_its_groups_and_nothing_else() -> None:
    (scope,) = parse_scopes([f"/subscriptions/{SUB}"])
    assert scope.contains(WEB01) and scope.contains(DEV01) and not scope.contains(ELSEWHERE)


def test_a_resource_group_scope_holds_only_that_group_case_insensitively() -> None:
    (scope,) = parse_scopes([f"/subscriptions/{SUB.upper()}/resourceGroups/PROD-RG"])
    assert scope.contains(WEB01) and not scope.contains(DEV01) and not scope.contains(ELSEWHERE)
    assert scope.within([Scope(SUB)]) and not Scope(SUB).within([scope])


def test_outside_the_scopes_is_a_refusal_that_names_the_vm_and_the_setting() -> None:
    scopes = parse_scopes([f"/subscriptions/{SUB}/resourceGroups/dev-rg"])
    check_in_scope(DEV01, scopes)
    with pytest.raises(Refusal) as e:
        check_in_scope(WEB01, scopes)
    assert e.value.code is RefusalCode.OUT_OF_SCOPE and "web-01" in e.value.message and "ALLOWED_SCOPES" in e.value.message
    with pytest.raises(Refusal, match="prod-rg is outside"):
        check_group_in_scope(SUB, "prod-rg", scopes)
    with pytest.raises(Refusal):
        check_in_scope(WEB01, ())  # no scope at all allows nothing


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/subscriptions/not-a-guid",
        f"/subscriptions/{SUB}/resourceGroups/..",
        f"/subscriptions/{SUB}/resourceGroups/a/b",
        "subscriptions/x",
        f"/subscriptions/{SUB}/x/y",
    ],
)
def test_bad_scopes_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_scopes([text])


def test_targets_are_deduplicated_case_insensitively_kept_in_scope_and_capped() -> None:
    upper = ResourceRef(SUB, "PROD-RG", "WEB-01")
    web02 = ResourceRef(SUB, "prod-rg", "web-02")
    assert unique([WEB01, upper, DEV01]) == [WEB01, DEV01]
    selection = select_targets([WEB01, ELSEWHERE, upper, DEV01, web02, WEB01], [Scope(SUB)], cap=2)
    assert selection.acted_on == (WEB01, DEV01)
    assert selection.out_of_scope == (ELSEWHERE,) and selection.over_cap == (web02,)


@pytest.mark.parametrize("name", ["prod-rg", "rg_1", "a.b", "(x)", "Grüße", "a" * 90])
def test_valid_resource_group_names(name: str) -> None:
    assert resource_group_problem(name) is None


@pytest.mark.parametrize("name", ["", "..", ".", "a.", "a/b", "a b", "a\nb", "a\x00", "a#b", "a%2Fb", "a?b", "a" * 91])
def test_invalid_resource_group_names(name: str) -> None:
    assert resource_group_problem(name) is not None


@pytest.mark.parametrize("name", ["web-01", "WEB01", "vm.linux.1", "a", "a" * 64])
def test_valid_vm_names(name: str) -> None:
    assert vm_name_problem(name) is None


@pytest.mark.parametrize(
    "name", ["", "..", "a.", "a-", "a/b", "a\\b", "a b", "a\tb", "a\x7f", "_a", "a_b", "a#b", "a%2F", "a?b", "a:b", "a" * 65]
)
def test_invalid_vm_names(name: str) -> None:
    assert vm_name_problem(name) is not None


@pytest.mark.parametrize(
    "resource_id",
    [
        f"/subscriptions/{SUB}/resourceGroups/../providers/Microsoft.Compute/virtualMachines/web-01",
        f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/..",
        f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/a%2F..",
        "/subscriptions/../resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/web-01",
    ],
)
def test_resource_ids_breaking_the_naming_rules_do_not_parse(resource_id: str) -> None:
    with pytest.raises(ValueError):
        ResourceRef.parse(resource_id)


BASE = {
    "AZURE_TENANT_ID": "11111111-1111-1111-1111-111111111111",
    "DEFAULT_SUBSCRIPTION_ID": SUB,
    "SSL_CERT_FILE": "",
    "REQUESTS_CA_BUNDLE": "",
}


def test_allowed_scopes_default_to_the_default_subscription() -> None:
    assert Settings.from_env(BASE).azure.allowed_scopes == (Scope(SUB),)
    listed = Settings.from_env({**BASE, "ALLOWED_SCOPES": f"/subscriptions/{SUB}/resourceGroups/dev-rg, /subscriptions/{OTHER}"})
    assert listed.azure.allowed_scopes == (Scope(SUB, "dev-rg"), Scope(OTHER))
    with pytest.raises(ConfigError, match="ALLOWED_SCOPES is invalid"):
        Settings.from_env({**BASE, "ALLOWED_SCOPES": "/subscriptions/nope"})
