"""Long-running operations of the ARM simulator: the async-operation status resource and how operations end.

https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations: a write that takes time answers
201 or 202 with `Azure-AsyncOperation` (a status body: InProgress, Succeeded or Failed) and/or `Location` (202 while
running, 200 once done). Each resource provider serves them under its own namespace
(`/subscriptions/<id>/providers/<namespace>/locations/<location>/operations/<id>`). Operations are settled lazily, by
the clock, when a later request looks: then `done` (or `failed`) changes the resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import Fault
from .responses import arm_error, iso

OP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/(?P<ns>[^/]+)/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$", re.IGNORECASE
)


@dataclass
class Operation:
    """A long-running operation on `target` (the resource it keeps busy), settled lazily by the clock."""

    id: str
    target: Any
    action: str
    started: float
    ends: float
    failure: Fault | None = None
    settled: bool = False
    done: Callable[[], None] | None = field(default=None, repr=False)  # what success does to the resource
    failed: Callable[[], None] | None = field(default=None, repr=False)  # what a failure leaves it as

    @property
    def vm(self) -> Any:
        return self.target

    def status(self, now: float) -> str:
        if now < self.ends:
            return "InProgress"
        return "Failed" if self.failure else "Succeeded"


@dataclass(frozen=True)
class WriteCall:
    """A write that reached ARM (after authorization), for assertions like "no write happened". `vm_id` is the id of
    the resource written (any type: the name is kept from when only VMs were written)."""

    vm_id: str
    action: str
    caller_oid: str
    at: float
    method: str = "POST"
    body: Any = None
    if_match: str | None = None

    @property
    def resource_id(self) -> str:
        return self.vm_id


def settle(operations: dict[str, Operation], now: float) -> None:
    """End the operations due by `now`: what they do to their resource happens."""
    for op in operations.values():
        if not op.settled and now >= op.ends:
            op.settled = True
            action = op.done if op.failure is None else op.failed
            if action is not None:
                action()


def busy(operations: dict[str, Operation], target: Any) -> bool:
    """True while an operation on `target` is still running."""
    return any(not op.settled and op.target is target for op in operations.values())


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
