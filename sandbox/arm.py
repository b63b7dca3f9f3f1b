"""A loopback Azure Resource Manager for the compute subset the bot uses.

Wire formats follow https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations
and the compute REST reference: virtual machine GET (with `$expand=instanceView`),
`instanceView`, the power actions answering 202 with `Azure-AsyncOperation` and `Location`,
the async-operation status resource, RBAC per scope with the exact `AuthorizationFailed` body,
`ResourceNotFound`, and 401s for bad tokens. Paths are matched case-insensitively, as ARM does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import jwt
from aiohttp import web

from .alerts import ALERT_PATH, AlertsManagement
from .alerts import READ_ACTION as ALERT_READ_ACTION
from .keys import KeySet
from .world import ROLE_DEFINITIONS, VirtualMachine, World

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

_VM_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"virtualmachines/(?P<vm>[^/]+)(?:/(?P<tail>[^/]+))?$",
    re.IGNORECASE,
)
_LIST_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourcegroups/(?P<rg>[^/]+))?/providers/microsoft\.compute/virtualmachines$",
    re.IGNORECASE,
)
_OP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.compute/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$",
    re.IGNORECASE,
)


@dataclass
class Fault:
    """An injected fault. `action` limits it to one power action (e.g. "restart"); count -1 = forever."""

    kind: str  # "status" | "latency" | "operation_failure"
    count: int = 1
    status: int = 500
    retry_after: int | None = None
    latency: float = 0.0
    action: str | None = None
    error_code: str = "InternalOperationError"
    error_message: str = "The operation failed because of an internal error on the host node."

    def matches(self, action: str | None) -> bool:
        return self.count != 0 and (self.action is None or (action or "").lower() == self.action.lower())

    def consume(self) -> None:
        if self.count > 0:
            self.count -= 1


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


@dataclass
class Caller:
    oid: str
    display: str  # what AuthorizationFailed names: the upn for users, the app id for apps


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
            if op.vm is vm:
                op.settled = True  # a later settle must not overwrite the state set here
        vm.power_state = state
        return vm

    def vm(self, name: str) -> VirtualMachine:
        return next(v for v in self.world.vms if v.name.lower() == name.lower())

    # -- dispatch ---------------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"].rstrip("/")
        self.requests.append((request.method, path))  # for assertions like "no ARM call at all"
        vm_match, list_match, op_match = _VM_PATH.match(path), _LIST_PATH.match(path), _OP_PATH.match(path)
        action = vm_match["tail"] if vm_match and request.method == "POST" else None
        for fault in self.faults:
            if fault.kind == "latency" and fault.matches(action):
                fault.consume()
                await asyncio.sleep(fault.latency)
        for fault in self.faults:
            if fault.kind == "status" and fault.matches(action):
                fault.consume()
                return _fault_response(fault)
        if "api-version" not in request.query:
            return _arm_error(
                400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
            )
        caller = self._authenticate(request)
        if isinstance(caller, web.Response):
            return caller
        self._settle()
        if op_match and request.method == "GET":
            return self._operation(request, op_match["op"])
        if list_match and request.method == "GET":
            missing = self._missing_container(list_match["sub"], list_match["rg"])
            return missing or self._list(caller, list_match["sub"], list_match["rg"])
        if ALERT_PATH.match(path) and request.method == "GET":
            if not self._allowed(caller, ALERT_READ_ACTION, path):
                return _authorization_failed(caller, ALERT_READ_ACTION, path)
            return self.alerts.response(path)
        if vm_match:
            vm = self._find(vm_match["sub"], vm_match["rg"], vm_match["vm"])
            tail = (vm_match["tail"] or "").lower()
            if vm is None:
                return self._missing_container(vm_match["sub"], vm_match["rg"]) or _not_found(vm_match)
            if request.method == "GET" and tail in ("", "instanceview"):
                if not self._allowed(caller, READ_ACTION, vm.id):
                    return _authorization_failed(caller, READ_ACTION, vm.id)
                if tail == "instanceview":
                    return web.json_response(_instance_view(vm))
                expand = request.query.get("$expand", "").lower() == "instanceview"
                return web.json_response(_vm_body(vm, expand))
            if request.method == "POST" and tail in POWER_ACTIONS:
                return self._power_action(request, caller, vm, tail)
        return _arm_error(404, "NotFound", f"The requested path '{path}' is not served by this ARM simulator.")

    # -- auth -------------------------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> Caller | web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        try:
            claims = self.keys.verify(header[7:], audience=sorted(self.audiences), options={"require": ["exp", "aud", "iss"]})
        except jwt.ExpiredSignatureError:
            return _unauthorized(
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time is earlier than current UTC time '{_utcnow()}'.",
            )
        except jwt.InvalidTokenError as e:
            return _unauthorized("InvalidAuthenticationToken", f"The access token is invalid. {type(e).__name__}.")
        tid = str(claims.get("tid", ""))
        # ARM's own registration gets v1 tokens (iss sts.windows.net); it accepts v2 ones too
        # (https://learn.microsoft.com/entra/identity-platform/access-tokens#token-formats)
        if claims.get("iss") not in (f"{self.issuer_base}/{tid}/v2.0", f"https://sts.windows.net/{tid}/"):
            return _unauthorized("InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.")
        if tid != self.world.home_tenant_id:
            return _unauthorized(
                "InvalidAuthenticationTokenTenant",
                f"The access token is from the wrong issuer '{claims.get('iss')}'. It must match the tenant "
                f"associated with this subscription. Please use the authority (URL) "
                f"'{self.issuer_base}/{self.world.home_tenant_id}' to get the token.",
            )
        oid = str(claims.get("oid", ""))
        display = str(claims.get("upn") or claims.get("appid") or oid)
        return Caller(oid=oid, display=display)

    def _allowed(self, caller: Caller, action: str, resource_id: str) -> bool:
        rid = resource_id.lower()
        for a in self.world.role_assignments:
            scope = a.scope.lower().rstrip("/")
            if a.principal_id != caller.oid or not (rid == scope or rid.startswith(scope + "/")):
                continue
            if any(fnmatchcase(action.lower(), p.lower()) for p in ROLE_DEFINITIONS.get(a.role, ())):
                return True
        return False

    # -- resources --------------------------------------------------------------------------
    def _missing_container(self, sub: str, rg: str | None) -> web.Response | None:
        """ARM names the first missing level: the subscription, then the resource group, then the resource
        (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors: SubscriptionNotFound,
        ResourceGroupNotFound; .../troubleshooting/error-not-found: ResourceNotFound)."""
        subs = {self.world.subscription_id.lower()} | {v.subscription_id.lower() for v in self.world.vms}
        if sub.lower() not in subs:
            return _arm_error(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
        groups = {(v.subscription_id.lower(), v.resource_group.lower()) for v in self.world.vms}
        if rg is not None and (sub.lower(), rg.lower()) not in groups:
            return _arm_error(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        return None

    def _find(self, sub: str, rg: str, name: str) -> VirtualMachine | None:
        return next(
            (
                v
                for v in self.world.vms
                if (v.subscription_id.lower(), v.resource_group.lower(), v.name.lower()) == (sub.lower(), rg.lower(), name.lower())
            ),
            None,
        )

    def _list(self, caller: Caller, sub: str, rg: str | None) -> web.Response:
        vms = [
            v
            for v in self.world.vms
            if v.subscription_id.lower() == sub.lower()
            and (rg is None or v.resource_group.lower() == rg.lower())
            and self._allowed(caller, READ_ACTION, v.id)
        ]
        return web.json_response({"value": [_vm_body(v, expand=False) for v in vms]})

    def _power_action(self, request: web.Request, caller: Caller, vm: VirtualMachine, tail: str) -> web.Response:
        rbac_action, transitional, _ = POWER_ACTIONS[tail]
        if not self._allowed(caller, rbac_action, vm.id):
            return _authorization_failed(caller, rbac_action, vm.id)
        if any(not op.settled and op.vm is vm for op in self.operations.values()):
            return _arm_error(
                409,
                "OperationNotAllowed",
                f"Operation '{tail}' is not allowed on VM '{vm.name}' since the VM is marked for another operation in progress.",
            )
        allowed_states, refusal = REQUIRES_RUNNING.get(tail, (None, ""))
        if allowed_states is not None and vm.power_state not in allowed_states:
            return _arm_error(409, "OperationNotAllowed", refusal)
        failure = next((f for f in self.faults if f.kind == "operation_failure" and f.matches(tail)), None)
        if failure:
            failure.consume()
        now = self.clock()
        no_op = failure is None and vm.power_state in NO_OPS.get(tail, set())
        op = Operation(str(uuid.uuid4()), vm, tail, now, now + self.operation_seconds, failure, final=vm.power_state if no_op else None)
        self.operations[op.id] = op
        self.writes.append(WriteCall(vm.id, tail, caller.oid, now))
        if not no_op:
            vm.power_state = transitional
        op_url = (
            f"{self.base_url}/subscriptions/{vm.subscription_id}/providers/Microsoft.Compute/locations/"
            f"{vm.location}/operations/{op.id}?api-version={request.query['api-version']}"
        )
        headers = {"Azure-AsyncOperation": op_url, "Location": op_url + "&monitor=true"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return web.Response(status=202, headers=headers)

    def _operation(self, request: web.Request, op_id: str) -> web.Response:
        op = self.operations.get(op_id)
        if op is None:
            return _arm_error(404, "ResourceNotFound", f"The operation '{op_id}' was not found.")
        now = self.clock()
        status = op.status(now)
        if request.query.get("monitor") == "true":
            if status == "InProgress":
                return web.Response(status=202, headers={"Location": str(request.url)})
            return web.Response(status=200)
        body: dict[str, Any] = {"startTime": _iso(op.started), "status": status, "name": op.id}
        if status != "InProgress":
            body["endTime"] = _iso(op.ends)
        if status == "Failed" and op.failure:
            body["error"] = {"code": op.failure.error_code, "message": op.failure.error_message}
        return web.json_response(body)

    def _settle(self) -> None:
        now = self.clock()
        for op in self.operations.values():
            if not op.settled and now >= op.ends:
                op.settled = True
                if op.failure is None:
                    op.vm.power_state = op.final or POWER_ACTIONS[op.action][2]
                elif op.action in ("restart", "start", "redeploy"):
                    op.vm.power_state = "stopped"

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


def _vm_body(vm: VirtualMachine, expand: bool) -> dict[str, Any]:
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
        body["properties"]["instanceView"] = _instance_view(vm)
    return body


def _instance_view(vm: VirtualMachine) -> dict[str, Any]:
    return {
        "computerName": vm.name,
        "osName": "ubuntu",
        "osVersion": "24.04",
        "vmAgent": {"vmAgentVersion": "2.12.0.2", "statuses": []},
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "time": _utcnow()},
            {"code": f"PowerState/{vm.power_state}", "level": "Info", "displayStatus": POWER_DISPLAY.get(vm.power_state, vm.power_state)},
        ],
    }


def _headers() -> dict[str, str]:
    rid = str(uuid.uuid4())
    return {"x-ms-request-id": rid, "x-ms-correlation-request-id": rid}


def _arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers={**_headers(), **(headers or {})})


def _unauthorized(code: str, message: str) -> web.Response:
    return _arm_error(
        401,
        code,
        message,
        {"WWW-Authenticate": f'Bearer authorization_uri="https://login.invalid/", error="invalid_token", error_description="{message}"'},
    )


def _authorization_failed(caller: Caller, action: str, scope: str) -> web.Response:
    return _arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{caller.display}' with object id '{caller.oid}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
        {"x-ms-failure-cause": "gateway"},
    )


def _not_found(match: re.Match[str]) -> web.Response:
    return _arm_error(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.Compute/virtualMachines/{match['vm']}' under resource group '{match['rg']}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def _fault_response(fault: Fault) -> web.Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429:
        # The Compute resource provider throttles with 429, code OperationNotAllowed and a TooManyRequests detail
        # naming the exhausted policy (learn.microsoft.com/troubleshoot/azure/virtual-machines/troubleshooting-throttling-errors).
        now = datetime.now(UTC)
        window = {
            "operationGroup": "HighCostGet30Min",
            "startTime": now.isoformat(),
            "endTime": now.isoformat(),
            "allowedRequestCount": 800,
            "measuredRequestCount": 1238,
        }
        body = {
            "error": {
                "code": "OperationNotAllowed",
                "message": "The server rejected the request because too many requests have been received for this subscription.",
                "details": [{"code": "TooManyRequests", "target": "HighCostGet30Min", "message": json.dumps(window)}],
            }
        }
        headers["x-ms-ratelimit-remaining-resource"] = "Microsoft.Compute/HighCostGet3Min;46,Microsoft.Compute/HighCostGet30Min;0"
        return web.json_response(body, status=429, headers={**_headers(), **headers})
    code = {500: "InternalServerError", 503: "ServiceUnavailable"}.get(fault.status, "Error")
    return _arm_error(fault.status, code, f"Injected fault: HTTP {fault.status}.", headers)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _utcnow() -> str:
    return datetime.now(UTC).isoformat()
