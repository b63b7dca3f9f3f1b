"""Long-running operations of the ARM simulator: the async-operation status resource and how operations end.

https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations: a power action answers 202
with `Azure-AsyncOperation` (a status body: InProgress, Succeeded or Failed) and `Location` (202 while running,
200 once done). Operations are settled lazily, by the clock, when a later request looks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ..world import VirtualMachine
from .compute import POWER_ACTIONS
from .faults import Fault
from .responses import arm_error, iso

OP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$",
    re.IGNORECASE,
)


@dataclass
class Operation:
    """A long-running operation, settled lazily by the clock."""

    id: str
    vm: VirtualMachine
    action: str
    started: float
    ends: float
    failure: Fault | None = None
    settled: bool = False
    final: str | None = None  # the power state it ends in, when not the action's usual one (a no-op keeps the state)

    def status(self, now: float) -> str:
        if now < self.ends:
            return "InProgress"
        return "Failed" if self.failure else "Succeeded"


@dataclass(frozen=True)
class WriteCall:
    """A write that reached ARM (after authorization), for assertions like "no write happened"."""

    vm_id: str
    action: str
    caller_oid: str
    at: float


def settle(operations: dict[str, Operation], now: float) -> None:
    """End the operations due by `now`: the VM reaches the action's final state, or stops if a start failed."""
    for op in operations.values():
        if not op.settled and now >= op.ends:
            op.settled = True
            if op.failure is None:
                op.vm.power_state = op.final or POWER_ACTIONS[op.action][2]
            elif op.action in ("restart", "start", "redeploy"):
                op.vm.power_state = "stopped"


def operation_response(request: web.Request, op: Operation | None, op_id: str, now: float) -> web.Response:
    """The status resource (`Azure-AsyncOperation`), or the `Location` answer when asked with `monitor=true`."""
    if op is None:
        return arm_error(404, "ResourceNotFound", f"The operation '{op_id}' was not found.")
    status = op.status(now)
    if request.query.get("monitor") == "true":
        if status == "InProgress":
            return web.Response(status=202, headers={"Location": str(request.url)})
        return web.Response(status=200)
    body: dict[str, Any] = {"startTime": iso(op.started), "status": status, "name": op.id}
    if status != "InProgress":
        body["endTime"] = iso(op.ends)
    if status == "Failed" and op.failure:
        body["error"] = {"code": op.failure.error_code, "message": op.failure.error_message}
    return web.json_response(body)
