"""One aiohttp request served by an ASGI application (the `mcp` SDK's Streamable HTTP handler is one).

The ASGI HTTP connection scope and messages as the specification describes them
(https://asgi.readthedocs.io/en/latest/specs/www.html): the request body, already read within the app's body limit,
arrives as one `http.request` message; after it, `receive` waits until the client goes away and then says
`http.disconnect` (a long stream ends then rather than at its next write). `http.response.start` prepares an aiohttp
StreamResponse with the application's status and headers, each `http.response.body` is written as it comes (an SSE
stream is sent event by event).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

Message = MutableMapping[str, Any]
Asgi = Callable[[dict[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
DISCONNECT_POLL = 1.0  # seconds between looks at the connection once the body is read (aiohttp has no event for it)


async def serve_asgi(app: Asgi, request: web.Request, state: dict[str, Any]) -> web.StreamResponse:
    """Run `app` for `request`; `state` is the scope's per-request state (what the application may read of it)."""
    body = await request.read()
    scope = _scope(request, state)
    response: web.StreamResponse | None = None
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        while request.transport is not None and not request.transport.is_closing():
            await asyncio.sleep(DISCONNECT_POLL)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            response = web.StreamResponse(status=int(message["status"]))
            for name, value in message.get("headers") or []:
                response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await response.prepare(request)
        elif message["type"] == "http.response.body" and response is not None:
            chunk = message.get("body") or b""
            if chunk:
                await response.write(chunk)
            if not message.get("more_body", False):
                await response.write_eof()

    await app(scope, receive, send)
    if response is None:  # the application answered nothing: never leave the client hanging
        return web.json_response({"error": "the request could not be served"}, status=500)
    if not response.prepared:
        await response.prepare(request)
    return response


def _scope(request: web.Request, state: dict[str, Any]) -> dict[str, Any]:
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    sock = request.transport.get_extra_info("sockname") if request.transport is not None else None
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?")[0].encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None,
        "server": (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) and len(sock) >= 2 else None,
        "state": state,
    }
