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
from bot.domain.plan import Operation


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
