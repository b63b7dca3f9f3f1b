"""Microsoft.Compute: virtual machines and virtual machine scale sets.

Virtual machines (https://learn.microsoft.com/rest/api/compute/virtual-machines): the power actions are
`POST {vm}/{restart|start|powerOff|deallocate|redeploy}?api-version=2024-07-01`, each answered 202 with
`Azure-AsyncOperation` and `Location`; the state is `GET {vm}/instanceView` (its `PowerState/...` status).
Scale sets (https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets): the same power actions on the
whole set (`POST {vmss}/{action}`, 202), and `PATCH {vmss}` with `sku.capacity` to scale ("Update": 200 or 202,
`If-Match` with the set's `etag`); the state is `GET {vmss}` (`sku.capacity`, `etag`) and `GET {vmss}/instanceView`
(`virtualMachine.statusesSummary`, a count per `PowerState/...`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources import VIRTUAL_MACHINES, require_type
from .params import Param, ParamKind, ParamValue
from .request import get_path
from .spec import AfterFn, Facts, Observation, OperationSpec, PlanContext, Read, StateSpec

API = "2024-07-01"
_REST = "https://learn.microsoft.com/rest/api/compute"


VM, VMSS = require_type(VIRTUAL_MACHINES), require_type("Microsoft.Compute/virtualMachineScaleSets")
POWER = "Power state"
COUNT = "Instance count"


def _vm_facts(o: Observation) -> Facts:
    statuses = (o.body() or {}).get("statuses") or []
    code = next((str(s.get("code")) for s in statuses if str(s.get("code", "")).startswith("PowerState/")), None)
    return ((POWER, code.split("/", 1)[1]),) if code else ()


def _vmss_facts(o: Observation) -> Facts:
    facts: list[tuple[str, str]] = []
    capacity = get_path(o.body(), "sku.capacity")
    if capacity is not None:
        facts.append((COUNT, str(capacity)))
    summary = get_path(o.body("instanceView"), "virtualMachine.statusesSummary") or []
    power = [f"{s.get('count')} {str(s.get('code')).split('/', 1)[1]}" for s in summary if str(s.get("code", "")).startswith("PowerState/")]
    if power:
        facts.append(("Power states", ", ".join(sorted(power))))
    return tuple(facts)


def _etag(o: Observation) -> str | None:
    tag = (o.body() or {}).get("etag")
    return str(tag) if tag else None


STATES: dict[str, StateSpec] = {
    VM.name: StateSpec((Read("resource", "{id}/instanceView"),), _vm_facts),
    VMSS.name: StateSpec((Read("resource", "{id}"), Read("instanceView", "{id}/instanceView")), _vmss_facts, _etag),
}


def _power_after(final: str | None, label: str = POWER) -> AfterFn:
    """The state a power action ends in: `final`, or as it is (a restart ends as it began: running)."""

    def after(before: Facts, params: Mapping[str, ParamValue]) -> Facts:
        if final is None:
            return before
        return tuple((k, final if k == label else v) for k, v in before) or ((label, final),)

    return after


def _vmss_power_after(final: str) -> AfterFn:
    def after(before: Facts, params: Mapping[str, ParamValue]) -> Facts:
        count = dict(before).get(COUNT)
        return tuple((k, f"{count} {final}" if k == "Power states" and count else v) for k, v in before)

    return after


def _capacity_after(label: str, param: str) -> AfterFn:
    def after(before: Facts, params: Mapping[str, ParamValue]) -> Facts:
        return tuple((k, str(params[param]) if k == label else v) for k, v in before) or ((label, str(params[param])),)

    return after


# (word, label, final power state, REST page, risk, undo)
_VM_ACTIONS = (
    ("restart", "Restart", None, "restart", "The VM is unavailable while it restarts.", "Nothing to undo: the VM is running again."),
    ("start", "Start", "running", "start", "", "Power it off again (stop vm)."),
    (
        "powerOff", "Stop (power off)", "stopped", "power-off",
        "The VM's workload stops; it stays allocated, so compute is still billed.", "Start it again (start vm).",
    ),
    (
        "deallocate", "Deallocate", "deallocated", "deallocate",
        "The VM stops and its host is released: a dynamic public IP address may change and the temporary disk is emptied.",
        "Start it again (start vm); the released IP address may not come back.",
    ),
    (
        "redeploy", "Redeploy", "running", "redeploy",
        "The VM is shut down and moved to a new host: the data on its temporary disk is lost.", "Cannot be undone.",
    ),
)  # fmt: skip
VM_OPERATIONS = tuple(
    OperationSpec(
        VM, word, label, "POST", f"/{word}", API, (f"{VIRTUAL_MACHINES}/{word}/action",), f"{_REST}/virtual-machines/{page}",
        aliases=("stop",) if word == "powerOff" else (), after=_power_after(final), risk=risk, undo=undo,
    )
    for word, label, final, page, risk, undo in _VM_ACTIONS
)  # fmt: skip
_VMSS_ACTIONS = (
    ("restart", "Restart", "running", "restart", "Every instance restarts: the set's capacity drops while they do.", "Nothing to undo."),
    ("start", "Start", "running", "start", "", "Power the set off again (stop vmss)."),
    (
        "powerOff", "Stop (power off)", "stopped", "power-off",
        "Every instance stops; they stay allocated, so compute is still billed.", "Start the set again (start vmss).",
    ),
    (
        "deallocate", "Deallocate", "deallocated", "deallocate",
        "Every instance stops and releases its host: dynamic public IP addresses may change, temporary disks are emptied.",
        "Start the set again (start vmss).",
    ),
)  # fmt: skip


def _scale_body(ctx: PlanContext) -> tuple[str, Any]:
    return "", {"sku": {"capacity": ctx.params["capacity"]}}


VMSS_OPERATIONS = (
    *(
        OperationSpec(
            VMSS, word, label, "POST", f"/{word}", API, (f"{VMSS.name}/{word}/action",),
            f"{_REST}/virtual-machine-scale-sets/{page}", aliases=("stop",) if word == "powerOff" else (),
            after=_vmss_power_after(final), risk=risk, undo=undo,
        )
        for word, label, final, page, risk, undo in _VMSS_ACTIONS
    ),
    OperationSpec(
        VMSS, "scale", "Scale", "PATCH", "", API, (f"{VMSS.name}/write",), f"{_REST}/virtual-machine-scale-sets/update",
        params=(Param("capacity", ParamKind.INTEGER, "The number of instances the scale set should have", minimum=0, maximum=1000),),
        build=_scale_body, after=_capacity_after(COUNT, "capacity"), shown=("sku.capacity",), phrase="to {capacity} instances",
        risk="Scaling in deletes instances (and their local data); scaling out adds billed instances.",
        undo="Scale it back to the instance count it had.", if_match=True,
    ),
)  # fmt: skip
