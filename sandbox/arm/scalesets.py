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
from .kit import RG, SUB, Arm, bad_request, find, json_body, listed, not_found, precondition_failed, route, whole
from .rbac import Caller
from .responses import arm_error

TYPE = "Microsoft.Compute/virtualMachineScaleSets"
READ = f"{TYPE}/read"
_SET = rf"{RG}/microsoft\.compute/virtualmachinescalesets/(?P<name>[^/]+)"
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


def _lookup(arm: Arm, caller: Caller, m: re.Match[str]) -> ScaleSet | web.Response:
    found = find(arm.world.estate.scale_sets, m["sub"], m["rg"], m["name"])
    if found is None:
        return arm.missing(m["sub"], m["rg"]) or not_found(TYPE, m["name"], m["rg"])
    return arm.guard(caller, READ, found.id) or found


@route("GET", rf"{SUB}/microsoft\.compute/virtualmachinescalesets")
async def list_sets(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    sets = [s for s in listed(arm.world.estate.scale_sets, m["sub"]) if arm.guard(caller, READ, s.id) is None]
    return web.json_response({"value": [body(s) for s in sets]})


@route("GET", _SET)
async def get_set(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _lookup(arm, caller, m)
    return found if isinstance(found, web.Response) else web.json_response(body(found))


@route("GET", rf"{_SET}/instanceview")
async def instance_view(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _lookup(arm, caller, m)
    if isinstance(found, web.Response):
        return found
    summary = [{"code": f"PowerState/{found.power_state}", "count": found.capacity}] if found.capacity else []
    return web.json_response(
        {"virtualMachine": {"statusesSummary": summary}, "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info"}]}
    )


@route("POST", rf"{_SET}/(?P<action>restart|start|poweroff|deallocate)")
async def power(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _lookup(arm, caller, m)
    if isinstance(found, web.Response):
        return found
    word, final = POWER[m["action"].lower()]
    if refused := arm.guard(caller, f"{TYPE}/{word}/action", found.id):
        return refused
    if arm.busy(found):
        return _conflict(found, word)
    s = found

    def done() -> None:
        s.power_state = final

    return arm.accept(request, caller, s, s.id, m["action"].lower(), "Microsoft.Compute", s.location, done=done)


@route("PATCH", _SET)
async def update(arm: Arm, request: web.Request, caller: Caller, m: re.Match[str]) -> web.Response:
    found = _lookup(arm, caller, m)
    if isinstance(found, web.Response):
        return found
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
