"""Parsing @mention commands."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.adapters.conversation.commands import (
    COMMAND_HELP,
    HelpCommand,
    PendingCommand,
    StatusCommand,
    Unknown,
    VmCommand,
    help_text,
    parse,
)
from bot.domain.operations import by_key
from bot.domain.plan import Operation
from bot.domain.resources import require_type


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("restart vm web-01", VmCommand(Operation.RESTART, "web-01")),
        ("Restart VM web-01 in prod-rg", VmCommand(Operation.RESTART, "web-01", "prod-rg")),
        ("  stop   vm  dev-01 ", VmCommand(Operation.POWER_OFF, "dev-01")),
        ("start vm dev-01", VmCommand(Operation.START, "dev-01")),
        ("deallocate vm dev-01", VmCommand(Operation.DEALLOCATE, "dev-01")),
        ("redeploy vm dev-01", VmCommand(Operation.REDEPLOY, "dev-01")),
        ("status vm web-02", StatusCommand("web-02")),
        ("pending", PendingCommand()),
        ("help", HelpCommand()),
        ("", HelpCommand()),
        (
            "restart vm /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
            VmCommand(Operation.RESTART, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"),
        ),
    ],
)
def test_commands_parse(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("restrat vm web-01", "`restart vm web-01`"),
        ("restart dev-01", "Did you mean `restart vm dev-01`"),  # the verb and the VM: only `vm` was left out
        ("Restart dev-01 in dev-rg", "`restart vm dev-01 in dev-rg`"),
        ("restart vm", "Which VM?"),
        ("restart vm bad!name", "not a valid VM name"),
        ("delete vm web-01", "Did you mean"),
        ("make me a sandwich", "help"),
    ],
)
def test_unknown_input_gets_a_helpful_hint(text: str, hint: str) -> None:
    result = parse(text)
    assert isinstance(result, Unknown) and hint in result.hint


def test_help_mentions_every_command() -> None:
    text = help_text()
    assert all(example in text for _, example, _ in COMMAND_HELP)
    # consent is asked for every write asked in chat; only an autonomous incident response plan acts at once
    assert "always wait" not in text and "autonomous acts on an alert at once" in text


@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    assert parse(text) is not None


APPS = "Microsoft.App/containerApps/"
VMSS, POOLS = "Microsoft.Compute/virtualMachineScaleSets/", "Microsoft.ContainerService/managedClusters/agentPools/"


@pytest.mark.parametrize(
    ("text", "key", "target", "group", "params"),
    [
        ("restart app shop", "Microsoft.Web/sites/restart", "shop", None, ()),
        ("stop app shop in prod-rg", "Microsoft.Web/sites/stop", "shop", "prod-rg", ()),
        ("swap slot shop/staging", "Microsoft.Web/sites/slots/swap", "shop/staging", None, (("targetSlot", "production"),)),
        ("swap slot shop/staging with qa", "Microsoft.Web/sites/slots/swap", "shop/staging", None, (("targetSlot", "qa"),)),
        ("scale plan shop-plan to 4", "Microsoft.Web/serverfarms/scale", "shop-plan", None, (("capacity", 4),)),
        ("restart vmss web-ss", VMSS + "restart", "web-ss", None, ()),
        ("scale vmss web-ss to 0 in platform-rg", VMSS + "scale", "web-ss", "platform-rg", (("capacity", 0),)),
        ("restart containerapp orders-api", APPS + "restart", "orders-api", None, ()),
        ("restart containerapp checkout/checkout--blue", APPS + "restart", "checkout", None, (("revision", "checkout--blue"),)),
        ("scale pool aks-prod/nodepool1 to 5", POOLS + "scale", "aks-prod/nodepool1", None, (("count", 5),)),
        ("reboot redis cache-prod", "Microsoft.Cache/redis/reboot", "cache-prod", None, (("rebootType", "AllNodes"),)),
        ("reboot redis cache-prod secondary", "Microsoft.Cache/redis/reboot", "cache-prod", None, (("rebootType", "SecondaryNode"),)),
        ("failover sql-east/orders-fg", "Microsoft.Sql/servers/failoverGroups/failover", "sql-east/orders-fg", None, ()),
    ],
)  # fmt: skip
def test_every_catalog_operation_has_a_chat_form(text: str, key: str, target: str, group: str | None, params: tuple[object, ...]) -> None:
    assert parse(text) == VmCommand(by_key(key), target, group, params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("scale plan shop-plan to 0", "capacity must be a whole number, at least 1"),
        ("scale plan shop-plan", "`to <capacity>`"),
        ("scale pool aks-prod to 3", "a node pool is named <managedCluster>/<agentPool>"),
        ("reboot redis cache-prod everything", "all or primary or secondary"),
        ("restart app shop extra", "I did not expect `extra`"),
        ("status keyvault kv-prod", "Status of what?"),
        ("swap slot shop/st..ging", "not a valid deployment slot name"),
    ],
)
def test_chat_forms_explain_what_is_wrong(text: str, hint: str) -> None:
    result = parse(text)
    assert isinstance(result, Unknown) and hint in result.hint, result


def test_status_names_any_kind() -> None:
    assert parse("status plan shop-plan in prod-rg") == StatusCommand("shop-plan", "prod-rg", require_type("Microsoft.Web/serverfarms"))


def test_every_catalog_entry_is_in_help_and_the_manifest_list_stays_within_teams_limit() -> None:
    from bot.adapters.conversation.chat_forms import FORMS
    from bot.domain.operations import CATALOG

    assert {f.operation for f in FORMS} == set(CATALOG)
    assert all(f.example in help_text() for f in FORMS)
    assert len(COMMAND_HELP) <= 10  # the manifest schema's commandLists[].commands maxItems
