"""The STS error answers of the Entra simulator: OAuth `error`, AADSTS code, `suberror` and `claims`.

Bodies follow https://learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow#error-response-example
and the AADSTS codes of https://learn.microsoft.com/entra/identity-platform/reference-error-codes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..world import OboError, User

MFA_CLAIMS = json.dumps({"access_token": {"capolids": {"essential": True, "values": [str(uuid.uuid5(uuid.NAMESPACE_URL, "mfa-policy"))]}}})


class EntraError(Exception):
    """An STS error answer: HTTP status, OAuth `error`, AADSTS code and extra fields."""

    def __init__(self, status: int, error: str, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.code, self.message, self.extra = status, error, code, message, extra

    def body(self, base_url: str) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        return {
            "error": self.error,
            "error_description": (
                f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {now}"
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{base_url}/error?code={self.code}",
            **self.extra,
        }


def consent_required(client_id: str) -> EntraError:
    """AADSTS65001: nobody consented to `client_id` using the API (an interactive request is needed)."""
    return EntraError(
        400,
        "invalid_grant",
        65001,
        f"The user or administrator has not consented to use the application with ID '{client_id}'. "
        "Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    )


# The failure an On-Behalf-Of exchange answers for a user set to fail in that mode (sandbox control)
OBO_ERRORS: dict[OboError, Callable[[User, str], EntraError]] = {
    OboError.MFA_REQUIRED: lambda user, resource: EntraError(
        400,
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new "
        f"location, you must use multi-factor authentication to access '{resource}'.",
        suberror="basic_action",
        claims=MFA_CLAIMS,
    ),
    OboError.CONSENT_REQUIRED: lambda user, resource: consent_required(resource),
    OboError.INVALID_ASSERTION: lambda user, resource: EntraError(
        400,
        "invalid_grant",
        500133,
        "Assertion is not within its valid time range. Ensure that the access token is not expired "
        "before using it for user assertion, or request a new token.",
    ),
    OboError.ACCOUNT_DISABLED: lambda user, resource: EntraError(
        400, "invalid_grant", 50057, f"The user account is disabled. User: {user.upn}."
    ),
}


def error_response(error: EntraError, base_url: str) -> web.Response:
    return web.json_response(error.body(base_url), status=error.status)
