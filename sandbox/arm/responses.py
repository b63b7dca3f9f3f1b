"""How Azure Resource Manager answers errors: the common error body with ARM's request-id headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from ..http_errors import json_error


def request_headers() -> dict[str, str]:
    """ARM's request ids, on every answer (the ARM RPC's common response headers:
    https://github.com/Azure/azure-resource-manager-rpc/blob/master/v1.0/common-api-details.md)."""
    rid = str(uuid.uuid4())
    return {"x-ms-request-id": rid, "x-ms-correlation-request-id": rid}


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_error(status, code, message, {**request_headers(), **(headers or {})})


def unauthorized(code: str, message: str) -> web.Response:
    """401 with the `WWW-Authenticate` challenge ARM sends for a missing or unusable token."""
    return arm_error(
        401,
        code,
        message,
        {"WWW-Authenticate": f'Bearer authorization_uri="https://login.invalid/", error="invalid_token", error_description="{message}"'},
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def utcnow() -> str:
    return datetime.now(UTC).isoformat()
