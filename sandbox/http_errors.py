"""The error body Microsoft's REST APIs share: `{"error": {"code": ..., "message": ...}}`.

Microsoft Graph (https://learn.microsoft.com/graph/errors), Azure Resource Manager (its common ErrorResponse,
https://learn.microsoft.com/rest/api/resources/resources/get#errorresponse) and the Bot Connector and token service
(https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference#errorresponse-object)
answer errors in this shape; each simulator adds its own headers.
"""

from __future__ import annotations

from aiohttp import web


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An error answer with `status` and the `{"error": {"code", "message"}}` body."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)
