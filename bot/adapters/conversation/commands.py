"""@mention commands: a pure parser from message text to a command (no botbuilder here).

`<verb> <kind> <name> [<tail>] [in <group>]` for every operation of the catalog (chat_forms.py), with a full resource
id accepted in place of the name; `status <kind> <name>`; `pending`; `help`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ...domain.names import resource_group_problem
from ...domain.operations import OperationSpec, ParamError, Parameters, parse_parameters
from ...domain.resources import RESOURCE_TYPES, VIRTUAL_MACHINES, ResourceRef, ResourceType, by_kind, require_type
from .chat_forms import FORMS, ChatForm, form_for

# (command, example, description): the Teams manifest's commandLists (at most 10 per list: the manifest schema's
# maxItems) use this list; `help` lists every form (FORMS) as well
COMMAND_HELP: tuple[tuple[str, str, str], ...] = (
    ("restart vm", "restart vm web-01 [in prod-rg]", "Propose restarting a VM; approvers decide on the card"),
    ("start vm", "start vm web-01", "Propose starting a stopped or deallocated VM"),
    ("stop vm", "stop vm web-01", "Propose powering a VM off (it stays allocated and billed)"),
    ("restart app", "restart app shop", "Propose restarting a web app"),
    ("scale plan", "scale plan shop-plan to 4", "Propose a new instance count for an App Service plan"),
    ("swap slot", "swap slot shop/staging [with production]", "Propose swapping a deployment slot"),
    ("scale pool", "scale pool aks-prod/nodepool1 to 5", "Propose a new node count for an AKS node pool"),
    ("status", "status vm web-01", "Show a resource's current state (vm, app, plan, slot, vmss, containerapp, pool, redis, failovergroup)"),
    ("pending", "pending", "List plans waiting for your decision"),
    ("help", "help", "Show every command"),
)
_VM = require_type(VIRTUAL_MACHINES)


@dataclass(frozen=True)
class VmCommand:
    """Propose a catalog operation on a resource named by name (optionally in a group) or by full resource id."""

    operation: OperationSpec
    target: str
    resource_group: str | None = None
    params: Parameters = ()


ProposeCommand = VmCommand  # the name says VM for history: it proposes any operation of the catalog


@dataclass(frozen=True)
class StatusCommand:
    target: str
    resource_group: str | None = None
    rtype: ResourceType = _VM


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
    parts = words.split(" ")
    verb = parts[0].lower()
    if verb == "status":
        return _status(words, parts[1:])
    form = form_for(verb, parts[1]) if len(parts) > 1 else None
    if form is not None:
        return _propose(words, form, parts[2:])
    form = form_for(verb, None)
    return _propose(words, form, parts[1:]) if form is not None else _unknown(words)


def _split(words: str, rest: list[str], example: str, noun: str) -> tuple[str, list[str], str | None] | Unknown:
    """(name, the words between the name and `in <group>`, group), or the hint for what is missing or invalid."""
    if not rest:
        return Unknown(words, f"Which {noun}? For example: `{example}`.")
    group = None
    if len(rest) >= 3 and rest[-2].lower() == "in":
        group, rest = rest[-1], rest[:-2]
    if group is not None and (problem := resource_group_problem(group)):
        return Unknown(words, f"That is not a valid resource group name: {problem}.")
    return rest[0], rest[1:], group


def _name_problem(rtype: ResourceType, target: str) -> str | None:
    """Azure's naming rule for each name (`..`, `/`, control characters never reach an ARM path); ids are parsed later."""
    if target.lower().startswith("/subscriptions/"):
        return None
    names = tuple(target.split("/"))
    if len(names) != len(rtype.segments):
        shape = "/".join(f"<{s.rstrip('s')}>" for s in rtype.segments) if len(rtype.segments) > 1 else "<name>"
        return f"a {rtype.noun} is named {shape}"
    try:
        ResourceRef.of(rtype, "00000000-0000-0000-0000-000000000000", "rg", names)
    except ValueError as e:
        return str(e)
    return None


def _propose(words: str, form: ChatForm, rest: list[str]) -> Command:
    rtype = form.operation.rtype
    split = _split(words, rest, form.example, rtype.noun)
    if isinstance(split, Unknown):
        return split
    target, tail, group = split
    raw: dict[str, object] = {}
    if form.revision_in_name and "/" in target and not target.startswith("/"):
        target, raw["revision"] = target.split("/", 1)
    if problem := _name_problem(rtype, target):
        return Unknown(words, f"That is not a valid {rtype.noun} name or resource id: {problem}.")
    if tail and form.tail is None:
        return Unknown(words, f"I did not expect `{tail[0]}` after the name. For example: `{form.example}`.")
    try:
        raw |= form.tail.parse(tail) if form.tail else {}
        params = parse_parameters(form.operation.params, raw)
    except ParamError as e:
        return Unknown(words, f"{e.message}. For example: `{form.example}`.")
    return VmCommand(form.operation, target, group, params)


def _status(words: str, rest: list[str]) -> Command:
    kind = by_kind(rest[0]) if rest else None
    if kind is None:
        kinds = ", ".join(t.kind for t in RESOURCE_TYPES)
        return Unknown(words, f"Status of what? Say `status <kind> <name>`, the kind one of {kinds}.")
    split = _split(words, rest[1:], f"status {kind.kind} <name>", kind.noun)
    if isinstance(split, Unknown):
        return split
    target, tail, group = split
    if tail:
        return Unknown(words, f"Say `status {kind.kind} <name> [in <group>]`.")
    if problem := _name_problem(kind, target):
        return Unknown(words, f"That is not a valid {kind.noun} name or resource id: {problem}.")
    return StatusCommand(target, group, kind)


def _unknown(words: str) -> Unknown:
    """The closest commands, completed with what was typed after them: `restart dev-01` means `restart vm dev-01`."""
    parts = words.split()
    names = sorted({f.command for f in FORMS} | {c for c, _, _ in COMMAND_HELP})
    close, rest = difflib.get_close_matches(" ".join(parts[:2]).lower(), names, n=2, cutoff=0.5), parts[2:]
    kinds = sorted({f.kind for f in FORMS if f.kind})
    if len(parts) > 1 and not difflib.get_close_matches(parts[1].lower(), kinds, n=1, cutoff=0.75):  # the verb, then a VM
        by_verb = difflib.get_close_matches(f"{parts[0].lower()} vm", names, n=2, cutoff=0.7)
        close, rest = (by_verb, parts[1:]) if by_verb else (close, rest)
    if close:
        meant = [" ".join([c, *rest]) if c.endswith(" vm") else c for c in close]
        return Unknown(words, "Did you mean " + " or ".join(f"`{m}`" for m in meant) + "? Type `help` for all commands.")
    return Unknown(words, "I did not understand that. Type `help` for the commands I know.")


def help_text() -> str:
    lines = ["Here is what I can do (mention me first in a channel or group chat):", ""]
    lines += [f"- `{f.example}`: {f.description}" for f in FORMS]
    lines += [f"- `{example}`: {description}" for name, example, description in COMMAND_HELP if name in ("status", "pending", "help")]
    lines += [
        "",
        "Each takes `in <group>` or a full resource id in place of the name.",
        "Every write to Azure asked here waits for an approver's consent on the card. Only an incident response plan "
        "set to autonomous acts on an alert at once (and still asks an approver for credentials when Azure refuses the agent).",
    ]
    return "\n".join(lines)
