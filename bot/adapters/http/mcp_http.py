"""`/mcp`: the MCP server (Streamable HTTP transport, the official `mcp` SDK), authenticated like `POST /api/plans`,
and its OAuth 2.0 protected-resource metadata (RFC 9728).

The MCP authorization specification (https://modelcontextprotocol.io/specification/2025-06-18/basic/authorization):
a request without a valid token gets 401 with `WWW-Authenticate: Bearer resource_metadata="<metadata URL>"`; the
metadata, served where RFC 9728 3.1 puts it (`/.well-known/oauth-protected-resource` inserted before the resource's
path, `/mcp`) and at the root form too, names the resource (`https://<BOT_DOMAIN>/mcp`), the authorization server
(the tenant's Entra v2 issuer, whose OpenID configuration gives the token endpoint) and the scope to ask for
(`<API_AUDIENCE>/.default`, what a client-credentials request for the bot's API names). An MCP client can then get
its token from Entra and call again.

The SDK's session manager runs stateless: every request stands alone, so any instance can answer it and nothing is
kept between requests (a `wait_for_plan` is one request, held open as an SSE stream that carries its progress). It is
made, and the SDK imported, on the first request to /mcp: no Teams turn needs it, and importing the SDK took longer
than the rest of the bot's start-up (docs/benchmarks.md, start-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ...config import ApiSettings
from .api_auth import ApiAuth
from .asgi import serve_asgi

if TYPE_CHECKING:
    from .mcp_tools import McpTools

METADATA_PATH = "/.well-known/oauth-protected-resource"
MCP_PATH = "/mcp"


def _version() -> str:
    try:
        return version("sre-consent-bot")
    except PackageNotFoundError:
        return "0"


class McpEndpoint:
    def __init__(self, auth: ApiAuth, tools: Callable[[], McpTools], api: ApiSettings, max_body: int) -> None:
        self.auth, self.api = auth, api
        self._tools, self._max_body = tools, max_body
        self._manager: Any = None  # the SDK's session manager, running once the first request came
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", MCP_PATH, self.handle)
        app.router.add_get(METADATA_PATH + MCP_PATH, self.metadata)
        app.router.add_get(METADATA_PATH, self.metadata)
        app.on_cleanup.append(self._stopped)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Authenticate as /api/plans does, then hand the request to the SDK with the caller in its scope."""
        origin = request.headers.get("Origin")
        if origin is not None and origin.rstrip("/") != self._base(request):
            # the Streamable HTTP transport's rule against DNS rebinding: a browser page of another origin gets nothing
            # (https://modelcontextprotocol.io/specification/2025-06-18/basic/transports, security warning)
            return web.json_response({"error": f"Origin {origin} may not call /mcp"}, status=403)
        claims, caller = await self.auth.caller(request, resource_metadata=self._base(request) + METADATA_PATH + MCP_PATH)
        from .mcp_tools import CALLER

        return await serve_asgi((await self._running()).handle_request, request, {CALLER: (claims, caller)})

    async def metadata(self, request: web.Request) -> web.Response:
        """RFC 9728 2: where and for what an MCP client gets its token."""
        document: dict[str, Any] = {
            "resource": self._base(request) + MCP_PATH,
            "authorization_servers": [self.api.authorization_server] if self.api.authorization_server else [],
            "scopes_supported": [f"{self.api.api_audience.rstrip('/')}/.default"],
            "bearer_methods_supported": ["header"],
            "resource_name": "SRE consent bot",
        }
        return web.json_response(document, headers={"Cache-Control": "max-age=3600"})

    def _base(self, request: web.Request) -> str:
        """https://<BOT_DOMAIN>; on loopback (or with no domain known) the address this request reached, which is the
        one its client used."""
        public = self.api.public_url
        return public if public.startswith("https://") else f"{request.scheme}://{request.host}"

    async def _running(self) -> Any:
        """The SDK's session manager, made and started on first use and left running until the app stops, in a task of
        its own: its anyio task group must be left in the task that entered it."""
        async with self._lock:
            if self._manager is None:
                from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

                manager = StreamableHTTPSessionManager(
                    self._tools().server(_version()), stateless=True, max_request_body_size=self._max_body
                )
                started = asyncio.Event()

                async def hold() -> None:
                    async with manager.run():
                        started.set()
                        await self._stop.wait()

                task = asyncio.get_running_loop().create_task(hold(), name="mcp session manager")
                waiter = asyncio.ensure_future(started.wait())
                await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if task.done():
                    task.result()  # it could not start: say why
                self._manager, self._task = manager, task
            return self._manager

    async def _stopped(self, app: web.Application) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
