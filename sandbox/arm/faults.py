"""Faults the ARM simulator can be told to play: error statuses (throttling included), latency, failed operations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from .responses import arm_error, request_headers


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


def fault_response(fault: Fault) -> web.Response:
    """The answer of a "status" fault: ARM's throttling answer for 429, the plain error body otherwise."""
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429:
        return _throttled(headers)
    code = {500: "InternalServerError", 503: "ServiceUnavailable"}.get(fault.status, "Error")
    return arm_error(fault.status, code, f"Injected fault: HTTP {fault.status}.", headers)


def _throttled(headers: dict[str, str]) -> web.Response:
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
    return web.json_response(body, status=429, headers={**request_headers(), **headers})
