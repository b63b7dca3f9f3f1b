"""The ARM simulator's aiohttp application: routing, the power actions that write, and the sandbox controls.

Virtual machines are served here (compute.py); every other resource type by its provider module's routes
(scalesets.py, web.py, containers.py, data.py), through the helpers below: authorization, missing containers,
long-running operations and the record of writes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..alerts import ALERT_PATH, AlertsManagement
from ..alerts import READ_ACTION as ALERT_READ_ACTION
from ..keys import KeySet
from ..world import VirtualMachine, World
from .compute import (
    LIST_PATH,
    NO_OPS,
    POWER_ACTIONS,
    READ_ACTION,
    REQUIRES_RUNNING,
    VM_PATH,
    find_vm,
    instance_view,
    missing_container,
    vm_body,
    vm_not_found,
)
from .faults import Fault, fault_response
from .operations import OP_PATH, Operation, WriteCall, busy, operation_response, settle
from .providers import ROUTES
from .rbac import Caller, allowed, authenticate, authorization_failed
from .responses import arm_error


@dataclass
class ArmSimulator:
    """aiohttp application; `audiences` are the token audiences accepted (the endpoint's own URL)."""

    world: World
    keys: KeySet
    audiences: set[str] = field(default_factory=set)
    operation_seconds: float = 0.3
    retry_after: int | None = None
    clock: Callable[[], float] = time.time
    base_url: str = ""
    issuer_base: str = ""  # the Entra simulator's base URL: tokens must be issued there
    faults: list[Fault] = field(default_factory=list)
    writes: list[WriteCall] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every ARM call, reads too
    operations: dict[str, Operation] = field(default_factory=dict)
    alerts: AlertsManagement = field(default_factory=AlertsManagement)  # Azure Monitor's alerts (sandbox/alerts.py)

    def app(self) -> web.Application:
        app = web.Application()
        self.alerts.routes(app)
        app.router.add_get("/sandbox/writes", self._writes_handler)
        app.router.add_post("/sandbox/faults", self._faults_handler)
        app.router.add_delete("/sandbox/faults", self._clear_faults_handler)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        return app

    # -- controls ---------------------------------------------------------------------------
    def inject(self, fault: Fault) -> Fault:
        """Add a fault; it applies to the next matching requests."""
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def write_counts(self) -> Counter[tuple[str, str]]:
        """Write calls per (VM name, caller object id)."""
        return Counter((w.vm_id.rsplit("/", 1)[1], w.caller_oid) for w in self.writes)

    def writes_to(self, vm_name: str, caller_oid: str | None = None, since: int = 0) -> int:
        """Writes to `vm_name` (by `caller_oid`) among the log entries from index `since` on."""
        return sum(
            1 for w in self.writes[since:] if w.vm_id.rsplit("/", 1)[1].lower() == vm_name.lower() and caller_oid in (None, w.caller_oid)
        )

    def set_power_state(self, name: str, state: str) -> VirtualMachine:
        """Put a VM in `state` now, as if it had been driven there (operations already in flight end first)."""
        self._settle()
        vm = self.vm(name)
        for op in self.operations.values():
            if op.target is vm:
                op.settled = True  # a later settle must not overwrite the state set here
        vm.power_state = state
        return vm

    def vm(self, name: str) -> VirtualMachine:
        return next(v for v in self.world.vms if v.name.lower() == name.lower())

    # -- dispatch ---------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"].rstrip("/")
        self.requests.append((request.method, path))  # for assertions like "no ARM call at all"
        vm_match = VM_PATH.match(path)
        caller = await self._admit(request, _action_of(request.method, path))
        if isinstance(caller, web.Response):
            return caller
        self._settle()
        if request.method == "GET" and (op_match := OP_PATH.match(path)):
            return operation_response(request, self.operations.get(op_match["op"]), op_match["op"], self.clock())
        if request.method == "GET" and (list_match := LIST_PATH.match(path)):
            missing = missing_container(self.world, list_match["sub"], list_match["rg"])
            return missing or self._list(caller, list_match["sub"], list_match["rg"])
        if request.method == "GET" and ALERT_PATH.match(path):
            if not allowed(self.world, caller, ALERT_READ_ACTION, path):
                return authorization_failed(caller, ALERT_READ_ACTION, path)
            return self.alerts.response(path)
        if vm_match and (answer := self._vm_request(request, caller, vm_match)):
            return answer
        for route in ROUTES:
            if request.method == route.method and (m := route.pattern.match(path)):
                return await route.handler(self, request, caller, m)
        return arm_error(404, "NotFound", f"The requested path '{path}' is not served by this ARM simulator.")

    async def _admit(self, request: web.Request, action: str | None) -> Caller | web.Response:
        """Injected latency and status faults first, then the api-version and the caller's token, as ARM checks them."""
        for fault in self.faults:
            if fault.kind == "latency" and fault.matches(action):
                fault.consume()
                await asyncio.sleep(fault.latency)
        for fault in self.faults:
            if fault.kind == "status" and fault.matches(action):
                fault.consume()
                return fault_response(fault)
        if "api-version" not in request.query:
            return arm_error(
                400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
            )
        return authenticate(request, self.keys, self.audiences, self.issuer_base, self.world)

    def _vm_request(self, request: web.Request, caller: Caller, match: re.Match[str]) -> web.Response | None:
        """GET a VM (or its instance view), or POST one of its power actions; None for anything else on a VM."""
        vm = find_vm(self.world, match["sub"], match["rg"], match["vm"])
        tail = (match["tail"] or "").lower()
        if vm is None:
            return missing_container(self.world, match["sub"], match["rg"]) or vm_not_found(match)
        if request.method == "GET" and tail in ("", "instanceview"):
            if not allowed(self.world, caller, READ_ACTION, vm.id):
                return authorization_failed(caller, READ_ACTION, vm.id)
            if tail == "instanceview":
                return web.json_response(instance_view(vm))
            return web.json_response(vm_body(vm, request.query.get("$expand", "").lower() == "instanceview"))
        if request.method == "POST" and tail in POWER_ACTIONS:
            return self._power_action(request, caller, vm, tail)
        return None

    # -- resources --------------------------------------------------------------------------
    def _list(self, caller: Caller, sub: str, rg: str | None) -> web.Response:
        vms = [
            v
            for v in self.world.vms
            if v.subscription_id.lower() == sub.lower()
            and (rg is None or v.resource_group.lower() == rg.lower())
            and allowed(self.world, caller, READ_ACTION, v.id)
        ]
        return web.json_response({"value": [vm_body(v, expand=False) for v in vms]})

    def _power_action(self, request: web.Request, caller: Caller, vm: VirtualMachine, tail: str) -> web.Response:
        """Authorize, refuse what the VM's state forbids, then start the operation and answer 202 with its URLs."""
        rbac_action, transitional, _ = POWER_ACTIONS[tail]
        if not allowed(self.world, caller, rbac_action, vm.id):
            return authorization_failed(caller, rbac_action, vm.id)
        if refused := self._refused_by_state(vm, tail):
            return refused
        no_op = vm.power_state in NO_OPS.get(tail, set())
        final = vm.power_state if no_op else POWER_ACTIONS[tail][2]
        before = vm.power_state

        def done() -> None:
            vm.power_state = final

        def failed() -> None:  # a start that fails leaves the VM stopped; other actions leave it as it was
            vm.power_state = "stopped" if tail in ("restart", "start", "redeploy") else before

        answer = self.accept(request, caller, vm, vm.id, tail, "Microsoft.Compute", vm.location, done=done, failed=failed)
        if next(reversed(self.operations.values())).failure or not no_op:
            vm.power_state = transitional
        return answer

    # -- what the providers share -------------------------------------------------------------
    def guard(self, caller: Caller, action: str, scope: str) -> web.Response | None:
        """403 AuthorizationFailed naming `action` unless a role of `caller` at or above `scope` grants it."""
        return None if allowed(self.world, caller, action, scope) else authorization_failed(caller, action, scope)

    def missing(self, sub: str, rg: str | None) -> web.Response | None:
        return missing_container(self.world, sub, rg)

    def busy(self, target: object) -> bool:
        self._settle()
        return busy(self.operations, target)

    def wrote(self, request: web.Request, caller: Caller, resource_id: str, action: str, body: Any = None) -> None:
        """Record a write that reached the resource provider (after authorization)."""
        self.writes.append(WriteCall(resource_id, action, caller.oid, self.clock(), request.method, body, request.headers.get("If-Match")))

    def accept(
        self,
        request: web.Request,
        caller: Caller,
        target: object,
        resource_id: str,
        action: str,
        namespace: str,
        location: str,
        *,
        done: Callable[[], None],
        failed: Callable[[], None] | None = None,
        status: int = 202,
        body: Any = None,
        headers: tuple[str, ...] = ("Azure-AsyncOperation", "Location"),
        written: Any = None,
    ) -> web.Response:
        """Start a long-running operation on `target` and answer `status` with its polling URLs (ARM's async pattern):
        `done` changes the resource once it ends (or `failed`, when an injected operation failure applies)."""
        failure = next((f for f in self.faults if f.kind == "operation_failure" and f.matches(action)), None)
        if failure:
            failure.consume()
        now = self.clock()
        op = Operation(str(uuid.uuid4()), target, action, now, now + self.operation_seconds, failure, done=done, failed=failed)
        self.operations[op.id] = op
        self.wrote(request, caller, resource_id, action, written)
        sub = resource_id.split("/")[2]
        version = request.query["api-version"]
        op_url = f"{self.base_url}/subscriptions/{sub}/providers/{namespace}/locations/{location}/operations/{op.id}?api-version={version}"
        urls = {"Azure-AsyncOperation": op_url, "Location": op_url + "&monitor=true"}
        answer = {h: urls[h] for h in headers}
        if self.retry_after is not None:
            answer["Retry-After"] = str(self.retry_after)
        if body is None:
            return web.Response(status=status, headers=answer)
        return web.json_response(body, status=status, headers=answer)

    def _refused_by_state(self, vm: VirtualMachine, tail: str) -> web.Response | None:
        """409 OperationNotAllowed while another operation runs on the VM, or when its state forbids `tail`."""
        if busy(self.operations, vm):
            return arm_error(
                409,
                "OperationNotAllowed",
                f"Operation '{tail}' is not allowed on VM '{vm.name}' since the VM is marked for another operation in progress.",
            )
        allowed_states, refusal = REQUIRES_RUNNING.get(tail, (None, ""))
        if allowed_states is not None and vm.power_state not in allowed_states:
            return arm_error(409, "OperationNotAllowed", refusal)
        return None

    def _settle(self) -> None:
        settle(self.operations, self.clock())

    # -- sandbox HTTP controls --------------------------------------------------------------
    async def _writes_handler(self, request: web.Request) -> web.Response:
        return web.json_response([w.__dict__ for w in self.writes])

    async def _faults_handler(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            fault = self.inject(Fault(**body))
        except TypeError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(fault.__dict__, status=201)

    async def _clear_faults_handler(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.Response(status=204)


def _action_of(method: str, path: str) -> str | None:
    """What an injected fault's `action` matches: a POST's last path segment (restart, slotsswap, forceReboot, failover),
    "write" for a PUT or PATCH; None for reads."""
    if method == "POST":
        return path.rsplit("/", 1)[-1]
    return "write" if method in ("PUT", "PATCH") else None
