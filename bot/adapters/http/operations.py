"""What a caller may propose: `GET /api/operations` and the MCP tool `list_operations` answer with this.

The entries of the operations catalog (bot/domain/operations/) the caller's `operations` patterns allow, each with
its parameters as a JSON schema, the request it makes, the RBAC actions it needs, Microsoft's risk and the undo
(`described`: every description of the operations lives with the catalog).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.callers import ApiCaller
from ...domain.operations import described
from .api_auth import ApiAuth


def operations_for(caller: ApiCaller) -> list[dict[str, Any]]:
    """The operations `caller` may propose, each `{"resourceType", "operation", "parameters", ...}` with `parameters`
    the JSON schema of the action's parameters (an empty object schema when it takes none)."""
    return described(caller.operations)


def operations_body(caller: ApiCaller) -> dict[str, Any]:
    return {"operations": operations_for(caller)}


class OperationsApi:
    """`GET /api/operations`: the same authentication as `/api/plans`."""

    def __init__(self, auth: ApiAuth) -> None:
        self.auth = auth

    async def get(self, request: web.Request) -> web.Response:
        _, caller = await self.auth.caller(request)
        return web.json_response(operations_body(caller))
