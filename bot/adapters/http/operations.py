"""What a caller may propose: `GET /api/operations` and the MCP tool `list_operations` answer with this.

Today the bot's operations are the five virtual-machine power actions; the operations catalog (issue 23) replaces
`operations_for` with its entries, filtered the same way. Keep every description of the operations here, in one place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...domain.callers import ApiCaller
from ...domain.plan import Operation
from .api_auth import ApiAuth

VM_TYPE = "Microsoft.Compute/virtualMachines"
NO_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}


def operations_for(caller: ApiCaller) -> list[dict[str, Any]]:
    """The operations `caller` may propose, each `{"resourceType", "operation", "parameters"}` with `parameters` a JSON
    schema of the action's parameters (an empty object schema when it takes none)."""
    return [
        {"resourceType": VM_TYPE, "operation": op.value, "parameters": dict(NO_PARAMETERS, properties={})}
        for op in Operation
        if op in caller.operations
    ]


def operations_body(caller: ApiCaller) -> dict[str, Any]:
    return {"operations": operations_for(caller)}


class OperationsApi:
    """`GET /api/operations`: the same authentication as `/api/plans`."""

    def __init__(self, auth: ApiAuth) -> None:
        self.auth = auth

    async def get(self, request: web.Request) -> web.Response:
        _, caller = await self.auth.caller(request)
        return web.json_response(operations_body(caller))
