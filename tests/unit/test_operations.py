"""The operations catalog as data: every entry cited and bounded, patterns for API callers, requests built exactly."""

from __future__ import annotations

import re

import pytest

from bot.domain.operations import (
    CATALOG,
    Observation,
    Operation,
    OperationPattern,
    ParamError,
    Unplannable,
    allowed,
    by_key,
    changed,
    described,
    parse_parameters,
    plan_action,
)
from bot.domain.resources import RESOURCE_TYPES, ResourceRef

SUB = "00000000-0000-0000-0000-0000000000aa"
PLAN = ResourceRef.parse(f"/subscriptions/{SUB}/resourceGroups/prod-rg/providers/Microsoft.Web/serverfarms/shop-plan")
PLAN_READ = {
    "id": PLAN.id,
    "name": "shop-plan",
    "location": "westeurope",
    "kind": "app",
    "sku": {"name": "P1v3", "capacity": 3},
    "properties": {"provisioningState": "Succeeded", "numberOfSites": 1},
}
# the table: every type, every operation word
TABLE = {
    "Microsoft.Compute/virtualMachines": {"restart", "start", "powerOff", "deallocate", "redeploy"},
    "Microsoft.Compute/virtualMachineScaleSets": {"restart", "start", "powerOff", "deallocate", "scale"},
    "Microsoft.Web/sites": {"restart", "start", "stop"},
    "Microsoft.Web/sites/slots": {"swap"},
    "Microsoft.Web/serverfarms": {"scale"},
    "Microsoft.App/containerApps": {"restart"},
    "Microsoft.ContainerService/managedClusters/agentPools": {"scale"},
    "Microsoft.Cache/redis": {"reboot"},
    "Microsoft.Sql/servers/failoverGroups": {"failover"},
}


def test_the_catalog_holds_the_table_and_nothing_else() -> None:
    found: dict[str, set[str]] = {}
    for s in CATALOG:
        found.setdefault(s.rtype.name, set()).add(s.word)
    assert found == TABLE
    assert {t.name for t in RESOURCE_TYPES} == set(TABLE)


@pytest.mark.parametrize("spec", CATALOG, ids=lambda s: s.key)
def test_every_entry_is_cited_bounded_and_a_write(spec: object) -> None:
    from bot.domain.operations import OperationSpec

    assert isinstance(spec, OperationSpec)
    assert spec.reference.startswith("https://learn.microsoft.com/rest/api/")
    assert spec.method in ("POST", "PUT", "PATCH") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec.api_version)
    assert spec.rbac and all(a.lower().startswith(spec.rtype.name.split("/")[0].lower() + "/") for a in spec.rbac)
    assert spec.label and spec.undo
    for p in spec.params:
        if p.kind.value == "integer":
            assert p.minimum is not None and p.maximum is not None  # bounded both ways


def test_microsofts_documented_risks_are_carried() -> None:
    assert "potential data loss" in by_key("Microsoft.Cache/redis/reboot").risk
    assert "primary moves" in by_key("Microsoft.Sql/servers/failoverGroups/failover").risk


@pytest.mark.parametrize(
    ("key", "raw", "field"),
    [
        ("Microsoft.Web/serverfarms/scale", {"capacity": 0}, "capacity"),
        ("Microsoft.Web/serverfarms/scale", {"capacity": True}, "capacity"),
        ("Microsoft.Web/serverfarms/scale", {}, "capacity"),
        ("Microsoft.Compute/virtualMachineScaleSets/scale", {"capacity": -1}, "capacity"),
        ("Microsoft.ContainerService/managedClusters/agentPools/scale", {"count": 1001}, "count"),
        ("Microsoft.Cache/redis/reboot", {"rebootType": "EveryNode"}, "rebootType"),
        ("Microsoft.Web/sites/restart", {"path": "/delete"}, "path"),
        ("Microsoft.Web/sites/slots/swap", {"targetSlot": "../x"}, "targetSlot"),
    ],
)
def test_parameters_out_of_bounds_or_unknown_are_refused_naming_the_parameter(key: str, raw: dict[str, object], field: str) -> None:
    with pytest.raises(ParamError) as e:
        parse_parameters(by_key(key).params, raw)
    assert e.value.name == field


def test_defaults_are_filled_in_and_choices_read_in_any_case() -> None:
    assert parse_parameters(by_key("Microsoft.Cache/redis/reboot").params, {}) == (("rebootType", "AllNodes"),)
    assert parse_parameters(by_key("Microsoft.Cache/redis/reboot").params, {"REBOOTTYPE": "primarynode"}) == (
        ("rebootType", "PrimaryNode"),
    )
    assert parse_parameters(by_key("Microsoft.Web/sites/slots/swap").params, {}) == (("targetSlot", "production"),)


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        ("Microsoft.Web/sites/*", "Microsoft.Web/sites/stop", "Microsoft.Web/sites/slots/swap"),
        ("*/restart", "Microsoft.App/containerApps/restart", "Microsoft.Web/sites/stop"),
        ("*", "Microsoft.Sql/servers/failoverGroups/failover", None),
        ("restart", "Microsoft.Compute/virtualMachines/restart", "Microsoft.Web/sites/restart"),  # a plain word: the VM's
        ("stop", "Microsoft.Compute/virtualMachines/powerOff", "Microsoft.Web/sites/stop"),
        ("microsoft.cache/REDIS/reboot", "Microsoft.Cache/redis/reboot", None),
    ],
)
def test_caller_patterns(text: str, yes: str, no: str | None) -> None:
    pattern = OperationPattern.parse(text)
    assert allowed([pattern], by_key(yes))
    if no:
        assert not allowed([pattern], by_key(no))


@pytest.mark.parametrize(
    ("text", "said"),
    [("delete", "operation must be one of"), ("Microsoft.KeyVault/vaults/*", "not a type I can act on"), ("*/delete", "no type has")],
)
def test_bad_patterns_say_what_is_supported(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        OperationPattern.parse(text)


def test_described_lists_what_a_caller_may_propose_with_a_json_schema_each() -> None:
    listed = described([OperationPattern.parse("Microsoft.Web/serverfarms/*")])
    assert [d["key"] for d in listed] == ["Microsoft.Web/serverfarms/scale"]
    schema = listed[0]["parameters"]
    assert schema["properties"]["capacity"] == {
        "description": "The number of instances the plan should have",
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
    }
    assert schema["required"] == ["capacity"] and schema["additionalProperties"] is False
    assert len(described()) == len(CATALOG)


def test_a_plan_scale_writes_back_the_plan_as_read_with_only_the_capacity_changed() -> None:
    spec = by_key("Microsoft.Web/serverfarms/scale")
    action = plan_action(spec, PLAN, (("capacity", 4),), Observation((("resource", PLAN_READ),)))
    r = action.request
    assert (r.method, r.path, r.api_version) == ("PUT", PLAN.id, "2024-04-01")
    assert r.body == {**{k: PLAN_READ[k] for k in ("location", "kind", "sku", "properties")}, "sku": {"name": "P1v3", "capacity": 4}}
    assert r.summary() == "PUT …/serverfarms/shop-plan with sku.capacity 4"
    assert action.before == (("Instance count", "3"), ("Pricing tier", "P1v3"))
    assert action.after == (("Instance count", "4"), ("Pricing tier", "P1v3"))
    assert action.describe() == "Scale App Service plan shop-plan in prod-rg to 4 instances"


def test_a_plan_scale_cannot_be_planned_without_the_plan_read() -> None:
    with pytest.raises(Unplannable, match="could not be read"):
        plan_action(by_key("Microsoft.Web/serverfarms/scale"), PLAN, (("capacity", 4),), None)


def test_what_changed_since_the_card_is_named() -> None:
    action = plan_action(by_key("Microsoft.Web/serverfarms/scale"), PLAN, (("capacity", 4),), Observation((("resource", PLAN_READ),)))
    assert changed(action, Observation((("resource", PLAN_READ),))) is None
    moved = {**PLAN_READ, "sku": {"name": "P1v3", "capacity": 5}}
    assert changed(action, Observation((("resource", moved),))) == (
        "App Service plan shop-plan: its instance count is 5 now, not 3 as the card showed"
    )
    assert changed(action, Observation((("resource", None),))) == "App Service plan shop-plan no longer exists"
    assert "could not be read" in (changed(action, None) or "")


def test_a_vm_action_needs_no_state_and_keeps_its_request_shape() -> None:
    vm = ResourceRef(SUB, "prod-rg", "web-01")
    action = plan_action(Operation.RESTART, vm, (), None)
    assert (action.request.method, action.request.path, action.request.body) == ("POST", f"{vm.id}/restart", None)
    assert action.before == ()


@pytest.mark.parametrize(
    "rid",
    [
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app/config/web",
    ],
)
def test_ids_of_other_types_are_refused_listing_the_supported_ones(rid: str) -> None:
    with pytest.raises(ValueError, match=r"not a type I can act on; supported: Microsoft\.Compute/virtualMachines"):
        ResourceRef.parse(rid)


@pytest.mark.parametrize(
    "rid",
    [
        "/resourceGroups/rg/providers/Microsoft.Web/sites/-shop",
        "/resourceGroups/rg/providers/Microsoft.Web/serverfarms/shop_plan",
        "/resourceGroups/rg/providers/Microsoft.App/containerApps/Orders",
        "/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/1pool",
        "/resourceGroups/rg/providers/Microsoft.Cache/Redis/cache--prod",
        "/resourceGroups/rg/providers/Microsoft.Sql/servers/SQL/failoverGroups/fg",
        "/resourceGroups/rg/providers/Microsoft.Web/sites/shop/slots/st%2Fg",
    ],
)
def test_names_azure_would_refuse_never_reach_a_path(rid: str) -> None:
    with pytest.raises(ValueError):
        ResourceRef.parse(f"/subscriptions/{SUB}{rid}")


def test_ids_round_trip_in_any_case() -> None:
    rid = f"/subscriptions/{SUB}/resourcegroups/prod-rg/providers/microsoft.web/SITES/shop/SLOTS/staging"
    ref = ResourceRef.parse(rid)
    assert (ref.type, ref.parents, ref.name, ref.display) == ("Microsoft.Web/sites/slots", ("shop",), "staging", "shop/staging")
    assert ref.id.lower() == rid.lower()
