"""@mention commands: a pure parser from message text to a command (no botbuilder here)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ...domain.names import resource_group_problem, vm_name_problem
from ...domain.plan import OPERATION_WORDS, Operation

# "<verb> vm": every word Operation.parse accepts (the API and response plans accept the same words)
VM_COMMANDS: dict[str, Operation] = {f"{w.lower()} vm": Operation.parse(w) for w in OPERATION_WORDS}
# (command, example, description): the help text and the Teams manifest's commandLists use this list
COMMAND_HELP: tuple[tuple[str, str, str], ...] = (
    ("restart vm", "restart vm web-01 [in prod-rg]", "Propose restarting a VM; approvers decide on the card"),
    ("start vm", "start vm web-01", "Propose starting a stopped or deallocated VM"),
    ("stop vm", "stop vm web-01", "Propose powering a VM off (it stays allocated and billed)"),
    ("deallocate vm", "deallocate vm web-01", "Propose deallocating a VM (stops billing for compute)"),
    ("redeploy vm", "redeploy vm web-01", "Propose moving a VM to a new host"),
    ("status vm", "status vm web-01", "Show a VM's power state"),
    ("pending", "pending", "List plans waiting for your decision"),
    ("help", "help", "Show these commands"),
)
_SHAPE = re.compile(r"^(?P<verb>[a-z]+)\s+vm(?:\s+(?P<target>\S+))?(?:\s+in\s+(?P<rg>\S+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class VmCommand:
    """Propose an operation on a VM named by name (optionally in a group) or by full resource id."""

    operation: Operation
    target: str
    resource_group: str | None = None


@dataclass(frozen=True)
class StatusCommand:
    target: str
    resource_group: str | None = None


@dataclass(frozen=True)
class HelpCommand:
    pass


@dataclass(frozen=True)
class PendingCommand:
    pass


@dataclass(frozen=True)
class Unknown:
    """Not understood; `hint` says what was probably meant."""

    text: str
    hint: str


Command = VmCommand | StatusCommand | HelpCommand | PendingCommand | Unknown


def parse(text: str) -> Command:
    """Parse what someone typed after the @mention."""
    words = " ".join(text.replace("\u00a0", " ").split())
    lowered = words.lower()
    if lowered in ("help", "?", ""):
        return HelpCommand()
    if lowered == "pending":
        return PendingCommand()
    m = _SHAPE.match(words)
    if m:
        verb, target, rg = m["verb"].lower(), m["target"], m["rg"]
        command = f"{verb} vm"
        if command not in VM_COMMANDS and command != "status vm":
            return _unknown(words)
        if not target:
            return Unknown(words, f"Which VM? For example: `{command} web-01`.")
        # Azure's naming rules (domain/names.py): `..`, `/`, control characters never reach an ARM path
        rg_problem = resource_group_problem(rg) if rg is not None else None
        if rg_problem:
            return Unknown(words, f"That is not a valid resource group name: {rg_problem}.")
        vm_problem = None if target.lower().startswith("/subscriptions/") else vm_name_problem(target)
        if vm_problem:
            return Unknown(words, f"That is not a valid VM name or resource id: {vm_problem}.")
        if command == "status vm":
            return StatusCommand(target, rg)
        return VmCommand(VM_COMMANDS[command], target, rg)
    return _unknown(words)


def _unknown(words: str) -> Unknown:
    """The closest commands, completed with what was typed after them: `restart dev-01` means `restart vm dev-01`."""
    parts, names = words.split(), [c for c, _, _ in COMMAND_HELP]
    close, rest = difflib.get_close_matches(" ".join(parts[:2]).lower(), names, n=2, cutoff=0.5), parts[2:]
    if len(parts) > 1 and parts[1].lower() != "vm":  # the verb, then a VM: only `vm` was left out
        by_verb = difflib.get_close_matches(f"{parts[0].lower()} vm", names, n=2, cutoff=0.7)
        close, rest = (by_verb, parts[1:]) if by_verb else (close, rest)
    if close:
        meant = [" ".join([c, *rest]) if c.endswith(" vm") else c for c in close]
        return Unknown(words, "Did you mean " + " or ".join(f"`{m}`" for m in meant) + "? Type `help` for all commands.")
    return Unknown(words, "I did not understand that. Type `help` for the commands I know.")


def help_text() -> str:
    lines = ["Here is what I can do (mention me first in a channel or group chat):", ""]
    lines += [f"- `{example}`: {description}" for _, example, description in COMMAND_HELP]
    lines += [
        "",
        "Every write to Azure asked here waits for an approver's consent on the card. Only an incident response plan "
        "set to autonomous acts on an alert at once (and still asks an approver for credentials when Azure refuses the agent).",
    ]
    return "\n".join(lines)
