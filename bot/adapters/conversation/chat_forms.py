"""How each catalog operation is said in chat: `<verb> <kind> <name> [<tail>] [in <group>]`, one form per operation.

The forms are data: the verb, the kind word (the resource type's, or none when the verb says it: `failover`), the
catalog entry, and the tail that sets a parameter (`to <n>`, `with <slot>`, `all|primary|secondary`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.operations import Operation, OperationSpec, ParamError, by_key
from ...domain.operations.params import ParamValue


@dataclass(frozen=True)
class Tail:
    """The words after the name: `keyword` then a value for `param` (`to 4`), or a value alone from `words`
    (`primary` -> PrimaryNode). Optional tails fall back to the parameter's default."""

    param: str
    keyword: str = ""
    words: tuple[tuple[str, str], ...] = ()
    required: bool = False

    def parse(self, rest: list[str]) -> dict[str, ParamValue]:
        """The parameter from `rest`; raises ParamError saying what was expected."""
        if not rest:
            if self.required:
                raise ParamError(self.param, f"After the name, say `{self.keyword} <{self.param}>`")
            return {}
        if self.keyword:
            if len(rest) != 2 or rest[0].lower() != self.keyword:
                raise ParamError(self.param, f"After the name, say `{self.keyword} <{self.param}>`")
            return {self.param: rest[1]}
        mapped = dict(self.words).get(rest[0].lower()) if len(rest) == 1 else None
        if mapped is None:
            raise ParamError(self.param, "After the name, say " + " or ".join(w for w, _ in self.words))
        return {self.param: mapped}


@dataclass(frozen=True)
class ChatForm:
    verb: str
    kind: str | None  # None: the verb alone names the kind (`failover <server>/<group>`)
    operation: OperationSpec
    example: str
    description: str
    tail: Tail | None = None
    revision_in_name: bool = False  # `<app>/<revision>` names the container app and its revision

    @property
    def command(self) -> str:
        return f"{self.verb} {self.kind}" if self.kind else self.verb


def _key(k: str) -> OperationSpec:
    return by_key(k)


_VMSS = "Microsoft.Compute/virtualMachineScaleSets"
_TO_CAPACITY, _TO_COUNT = Tail("capacity", "to", required=True), Tail("count", "to", required=True)
_REBOOT = Tail("rebootType", words=(("all", "AllNodes"), ("primary", "PrimaryNode"), ("secondary", "SecondaryNode")))
FORMS: tuple[ChatForm, ...] = (
    ChatForm("restart", "vm", Operation.RESTART, "restart vm web-01 [in prod-rg]", "Propose restarting a VM; approvers decide on the card"),
    ChatForm("start", "vm", Operation.START, "start vm web-01", "Propose starting a stopped or deallocated VM"),
    ChatForm("stop", "vm", Operation.POWER_OFF, "stop vm web-01", "Propose powering a VM off (it stays allocated and billed)"),
    ChatForm("poweroff", "vm", Operation.POWER_OFF, "poweroff vm web-01", "The same as stop vm"),
    ChatForm("deallocate", "vm", Operation.DEALLOCATE, "deallocate vm web-01", "Propose deallocating a VM (stops billing for compute)"),
    ChatForm("redeploy", "vm", Operation.REDEPLOY, "redeploy vm web-01", "Propose moving a VM to a new host"),
    ChatForm("restart", "app", _key("Microsoft.Web/sites/restart"), "restart app shop", "Propose restarting a web app"),
    ChatForm("start", "app", _key("Microsoft.Web/sites/start"), "start app shop", "Propose starting a stopped web app"),
    ChatForm("stop", "app", _key("Microsoft.Web/sites/stop"), "stop app shop", "Propose stopping a web app"),
    ChatForm(
        "swap", "slot", _key("Microsoft.Web/sites/slots/swap"), "swap slot shop/staging [with production]",
        "Propose swapping a deployment slot with another (production unless named)", Tail("targetSlot", "with"),
    ),
    ChatForm(
        "scale", "plan", _key("Microsoft.Web/serverfarms/scale"), "scale plan shop-plan to 4",
        "Propose a new instance count for an App Service plan", _TO_CAPACITY,
    ),
    ChatForm("restart", "vmss", _key(f"{_VMSS}/restart"), "restart vmss web-ss", "Propose restarting a scale set"),
    ChatForm("start", "vmss", _key(f"{_VMSS}/start"), "start vmss web-ss", "Propose starting a scale set"),
    ChatForm("stop", "vmss", _key(f"{_VMSS}/powerOff"), "stop vmss web-ss", "Propose powering a scale set off"),
    ChatForm(
        "deallocate", "vmss", _key(f"{_VMSS}/deallocate"), "deallocate vmss web-ss",
        "Propose deallocating a scale set",
    ),
    ChatForm(
        "scale", "vmss", _key(f"{_VMSS}/scale"), "scale vmss web-ss to 5",
        "Propose a new instance count for a scale set", _TO_CAPACITY,
    ),
    ChatForm(
        "restart", "containerapp", _key("Microsoft.App/containerApps/restart"), "restart containerapp orders-api[/<revision>]",
        "Propose restarting a container app's revision (its latest, unless named)", revision_in_name=True,
    ),
    ChatForm(
        "scale", "pool", _key("Microsoft.ContainerService/managedClusters/agentPools/scale"), "scale pool aks-prod/nodepool1 to 5",
        "Propose a new node count for an AKS node pool", _TO_COUNT,
    ),
    ChatForm(
        "reboot", "redis", _key("Microsoft.Cache/redis/reboot"), "reboot redis cache-prod [all|primary|secondary]",
        "Propose rebooting a Redis cache's nodes (all unless named)", _REBOOT,
    ),
    ChatForm(
        "failover", None, _key("Microsoft.Sql/servers/failoverGroups/failover"), "failover sql-west/orders-fg",
        "Propose failing a SQL failover group over to the server named (its secondary)",
    ),
)  # fmt: skip
_BY_WORDS = {(f.verb, f.kind): f for f in FORMS}


def form_for(verb: str, kind: str | None) -> ChatForm | None:
    return _BY_WORDS.get((verb.lower(), kind.lower() if kind else None))
