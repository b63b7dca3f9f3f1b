"""The compute resources the ARM simulator serves: virtual machines, their power actions and how ARM shows them.

Compute REST reference (https://learn.microsoft.com/rest/api/compute/virtual-machines): GET with
`$expand=instanceView`, `instanceView`, list, and the power actions. Paths are matched case-insensitively, as ARM does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aiohttp import web

from ..world import VirtualMachine, World
from .responses import arm_error, utcnow

# action in the URL -> (RBAC action, transitional power state, final power state)
POWER_ACTIONS: dict[str, tuple[str, str, str]] = {
    "restart": ("Microsoft.Compute/virtualMachines/restart/action", "starting", "running"),
    "start": ("Microsoft.Compute/virtualMachines/start/action", "starting", "running"),
    "poweroff": ("Microsoft.Compute/virtualMachines/powerOff/action", "stopping", "stopped"),
    "deallocate": ("Microsoft.Compute/virtualMachines/deallocate/action", "deallocating", "deallocated"),
    "redeploy": ("Microsoft.Compute/virtualMachines/redeploy/action", "starting", "running"),
}
READ_ACTION = "Microsoft.Compute/virtualMachines/read"

# Power actions the VM's state forbids. Restarting a VM that is not running (stopped or deallocated) is refused with
# 409 OperationNotAllowed "The operation requires the VM to be running (or set to run)." (the message Azure gives, quoted
# in MicrosoftDocs/azure-docs#32404 on learn.microsoft.com/troubleshoot/azure/virtual-machines/allocation-failure; the
# Restart REST reference, learn.microsoft.com/rest/api/compute/virtual-machines/restart, restarts a running VM only).
# Start of a running VM, power off of a stopped or deallocated VM and deallocate of a deallocated VM are not refused
# (learn.microsoft.com/rest/api/compute/virtual-machines/start, .../power-off, .../deallocate document no state
# precondition): Azure accepts them and the VM stays as it is (NO_OPS). Redeploy is accepted in any state and ends
# running (learn.microsoft.com/rest/api/compute/virtual-machines/redeploy: shuts down, moves, powers back on).
REQUIRES_RUNNING: dict[str, tuple[set[str], str]] = {
    "restart": ({"running", "starting"}, "The operation requires the VM to be running (or set to run)."),
}
NO_OPS: dict[str, set[str]] = {
    "start": {"running"},
    "poweroff": {"stopped", "deallocated"},
    "deallocate": {"deallocated"},
}
POWER_DISPLAY = {
    "starting": "VM starting",
    "running": "VM running",
    "stopping": "VM stopping",
    "stopped": "VM stopped",
    "deallocating": "VM deallocating",
    "deallocated": "VM deallocated",
}

VM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"virtualmachines/(?P<vm>[^/]+)(?:/(?P<tail>[^/]+))?$",
    re.IGNORECASE,
)
LIST_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?/providers/microsoft\.compute/virtualmachines$",
    re.IGNORECASE,
)


def find_vm(world: World, sub: str, rg: str, name: str) -> VirtualMachine | None:
    wanted = (sub.lower(), rg.lower(), name.lower())
    return next((v for v in world.vms if (v.subscription_id.lower(), v.resource_group.lower(), v.name.lower()) == wanted), None)


def missing_container(world: World, sub: str, rg: str | None) -> web.Response | None:
    """ARM names the first missing level: the subscription, then the resource group, then the resource
    (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors: SubscriptionNotFound,
    ResourceGroupNotFound; .../troubleshooting/error-not-found: ResourceNotFound)."""
    groups = world.resource_groups()
    if sub.lower() not in {world.subscription_id.lower()} | {s for s, _ in groups}:
        return arm_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    if rg is not None and (sub.lower(), rg.lower()) not in groups:
        return arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    return None


def vm_not_found(match: re.Match[str]) -> web.Response:
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.Compute/virtualMachines/{match['vm']}' under resource group '{match['rg']}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def vm_body(vm: VirtualMachine, expand: bool) -> dict[str, Any]:
    """A VM as GET answers it; `expand` adds its instance view (`$expand=instanceView`)."""
    body: dict[str, Any] = {
        "name": vm.name,
        "id": vm.id,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "properties": {
            "vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm.id.lower())),
            "hardwareProfile": {"vmSize": vm.size},
            "storageProfile": {"osDisk": {"osType": "Linux", "name": f"{vm.name}-osdisk", "createOption": "FromImage"}},
            "osProfile": {"computerName": vm.name, "adminUsername": "azureuser"},
            "provisioningState": "Succeeded",
        },
    }
    if expand:
        body["properties"]["instanceView"] = instance_view(vm)
    return body


def instance_view(vm: VirtualMachine) -> dict[str, Any]:
    """The VM's instance view: provisioning state and power state (`PowerState/...`)."""
    return {
        "computerName": vm.name,
        "osName": "ubuntu",
        "osVersion": "24.04",
        "vmAgent": {"vmAgentVersion": "2.12.0.2", "statuses": []},
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "time": utcnow()},
            {"code": f"PowerState/{vm.power_state}", "level": "Info", "displayStatus": POWER_DISPLAY.get(vm.power_state, vm.power_state)},
        ],
    }
