"""Virtual machine scale sets as Compute serves them (https://learn.microsoft.com/rest/api/compute/virtual-machine-scale-sets).

GET the set (`sku.capacity`, `etag`) and its instance view (`virtualMachine.statusesSummary`); list by subscription;
the power actions `POST {vmss}/{restart|start|powerOff|deallocate}` (202, `Azure-AsyncOperation` and `Location`);
"Update" `PATCH {vmss}` with `sku.capacity` (200 with the set, provisioning `Updating`, and `Azure-AsyncOperation`;
`If-Match` with the set's `etag`, else 412). A write while another operation runs on the set is refused 409
OperationNotAllowed, as Compute refuses it on a VM (compute.py).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..estate import ScaleSet, new_etag
from .kit import Arm, Collection, bad_request, json_body, precondition_failed, whole
from .rbac import Caller
from .responses import arm_error

TYPE = "Microsoft.Compute/virtualMachineScaleSets"
SETS = Collection[ScaleSet](TYPE, r"microsoft\.compute/virtualmachinescalesets", lambda estate: estate.scale_sets)
# action in the URL -> (RBAC action, final power state)
POWER = {
    "restart": ("restart", "running"),
    "start": ("start", "running"),
    "poweroff": ("powerOff", "stopped"),
    "deallocate": ("deallocate", "deallocated"),
}


def body(s: ScaleSet, provisioning: str = "Succeeded") -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "type": TYPE,
        "location": s.location,
        "etag": s.etag,
        "sku": {"name": "Standard_D2s_v5", "tier": "Standard", "capacity": s.capacity},
        "properties": {"provisioningState": provisioning, "upgradePolicy": {"mode": "Manual"}, "orchestrationMode": "Uniform"},
    }


list_sets, get_set = SETS.routes(body)


@SETS.on("GET", r"/instanceview")
async def instance_view(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ScaleSet) -> web.Response:
    summary = [{"code": f"PowerState/{found.power_state}", "count": found.capacity}] if found.capacity else []
    return web.json_response(
        {"virtualMachine": {"statusesSummary": summary}, "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info"}]}
    )


@SETS.on("POST", r"/(?P<action>restart|start|poweroff|deallocate)")
async def power(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ScaleSet) -> web.Response:
    word, final = POWER[m["action"].lower()]
    if refused := arm.guard(caller, f"{TYPE}/{word}/action", found.id):
        return refused
    if arm.busy(found):
        return _conflict(found, word)
    s = found

    def done() -> None:
        s.power_state = final

    return arm.accept(request, caller, s, s.id, m["action"].lower(), "Microsoft.Compute", s.location, done=done)


@SETS.on("PATCH")
async def update(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str], found: ScaleSet) -> web.Response:
    if refused := arm.guard(caller, f"{TYPE}/write", found.id):
        return refused
    sent = await json_body(request)
    capacity = whole(((sent or {}).get("sku") or {}).get("capacity")) if isinstance(sent, dict) else None
    if capacity is None or capacity < 0:
        return bad_request("InvalidParameter", "The value of parameter sku.capacity is invalid: a whole number of instances is required.")
    if (tag := request.headers.get("If-Match")) and tag not in ("*", found.etag):
        return precondition_failed()
    if arm.busy(found):
        return _conflict(found, "write")
    s = found
    s.etag = new_etag()  # every write changes the ETag, at once

    def done() -> None:
        s.capacity = capacity

    return arm.accept(
        request, caller, s, s.id, "write", "Microsoft.Compute", s.location, done=done, status=200,
        body=body(s, "Updating"), headers=("Azure-AsyncOperation",), written=sent,
    )  # fmt: skip


def _conflict(s: ScaleSet, operation: str) -> web.Response:
    return arm_error(
        409,
        "OperationNotAllowed",
        f"Operation '{operation}' is not allowed on VM scale set '{s.name}' since the scale set is marked for another "
        "operation in progress.",
    )


ROUTES = (list_sets, get_set, instance_view, power, update)
