"""The one executor of every catalog entry: sends an action's stored ARM request exactly as approved, follows the
long-running operation with azure-core's ARM polling, and maps Azure's answers to plain outcomes. Also reads
resources of any catalog type (their state, and listings) with the agent identity.

The agent identity's client is built once and pooled (its connection pool is shared by every call); a user's
On-Behalf-Of client lives for one run only, like the user's credential. Every request and poll is bounded by the
connection and read timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError, ServiceResponseError

from ...domain.plan import PlannedAction
from ...ports import ArmReading, AzureProblem, Credential, ReadStatus, RunResult, RunStatus
from .arm_client import arm_client, poller, request
from .arm_errors import azure_error, map_error

log = logging.getLogger(__name__)
PROGRESS_POLL = 1.0
CONNECTION_TIMEOUT = 10.0  # seconds to open a connection to ARM (azure-core's default is 300)
READ_TIMEOUT = 60.0  # seconds to wait for each ARM answer (azure-core's default is 300)
MAX_PAGES = 50  # of a listing (nextLink), so a misbehaving endpoint cannot keep the bot paging
_UNREACHABLE = (TimeoutError, ServiceRequestError, ServiceResponseError)


class ArmRunner:
    """ActionRunner over ARM. `agent` is the agent identity, used for reads and agent-run actions."""

    def __init__(
        self,
        endpoint: str,
        agent: Any,
        subscription_id: str | None = None,
        ca_bundle: str | None = None,
        polling_interval: float | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        **azure_core: Any,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.scope = f"{self.endpoint}/.default"
        self.user_scope = f"{self.endpoint}/user_impersonation"
        self._agent = agent
        self._subscription = subscription_id
        self._polling_interval = polling_interval
        # azure-core hands these to its aiohttp transport: every ARM request (and LRO poll) is bounded
        self._options: dict[str, Any] = {"connection_timeout": connection_timeout, "read_timeout": read_timeout, **azure_core}
        if ca_bundle:
            self._options["connection_verify"] = ca_bundle
        self._agent_client: Any = None

    @property
    def live_agent_clients(self) -> int:
        """How many agent clients are open: one at most, however many subscriptions it has been asked about."""
        return 0 if self._agent_client is None else 1

    def _agent_pipeline(self) -> Any:
        if self._agent_client is None:
            self._agent_client = arm_client(self.endpoint, self._agent, self.scope, **self._options)
        return self._agent_client

    @asynccontextmanager
    async def _client_for(self, credential: Credential) -> AsyncIterator[Any]:
        if credential is self._agent:
            yield self._agent_pipeline()
            return
        # a user's On-Behalf-Of token asks for the delegated permission; its client lives for this run only
        client = arm_client(self.endpoint, credential, self.user_scope, **self._options)
        try:
            yield client
        finally:
            await client.close()

    async def close(self) -> None:
        client, self._agent_client = self._agent_client, None
        if client is not None:
            await client.close()

    async def run(self, action: PlannedAction, credential: Credential, progress: Callable[[str], Awaitable[None]]) -> RunResult:
        """Send `action.request` as stored (method, path, api-version, body, If-Match), then follow the operation."""
        r, accepted = action.request, False
        try:
            async with self._client_for(credential) as client:
                sent = request(r.method, f"{self.endpoint}{r.path}", r.api_version, r.body, r.if_match)
                initial = await client.send_request(sent, _return_pipeline_response=True)
                if initial.http_response.status_code >= 400:
                    await initial.http_response.read()
                    return map_error(_error(initial.http_response), action)
                accepted = True
                await progress("accepted by Azure, in progress")
                failed = await self._follow(poller(client, initial, self._polling_interval), progress)
                if failed is not None:
                    return failed
        except _UNREACHABLE as e:
            log.info("ARM unreachable for %s: %s", action.resource.display, type(e).__name__)
            when = ", after Azure accepted the action" if accepted else ""
            return RunResult(RunStatus.FAILED, f"{type(e).__name__}{when}", problem=AzureProblem.UNREACHABLE)
        except ClientAuthenticationError as e:  # no token for this identity: Azure never saw the request
            log.info("no ARM token for %s: %s", action.resource.display, type(e).__name__)
            return RunResult(RunStatus.FAILED, "the identity could not get a token for Azure", problem=AzureProblem.AUTHENTICATION_FAILED)
        return RunResult(RunStatus.SUCCEEDED, "Azure reports the operation succeeded.")

    async def _follow(self, lro: Any, progress: Callable[[str], Awaitable[None]]) -> RunResult | None:
        """Wait for the operation, saying what Azure reports meanwhile; a RunResult only when it failed."""
        done = asyncio.ensure_future(lro.result())
        while not done.done():
            await asyncio.wait({done}, timeout=PROGRESS_POLL)
            if not done.done():
                await progress(f"Azure reports {lro.status()}")
        try:
            await done
        except HttpResponseError as e:  # the status body's error.code says why the operation failed
            return RunResult(RunStatus.FAILED, "the operation failed", problem=AzureProblem.OPERATION_FAILED, azure_error=azure_error(e))
        return None

    async def read(self, path: str, api_version: str) -> ArmReading:
        """GET with the agent identity: FOUND with the body, NOT_FOUND (404), or UNAVAILABLE saying why."""
        try:
            response = await self._agent_pipeline().send_request(request("GET", f"{self.endpoint}{path}", api_version))
        except (*_UNREACHABLE, ClientAuthenticationError) as e:
            log.info("reading %s failed: %s", path, type(e).__name__)
            return ArmReading(ReadStatus.UNAVAILABLE, detail=type(e).__name__)
        if response.status_code == 200:
            try:
                return ArmReading(ReadStatus.FOUND, response.json())
            except ValueError:
                return ArmReading(ReadStatus.UNAVAILABLE, detail="Azure's answer was not JSON")
        if response.status_code == 404:
            return ArmReading(ReadStatus.NOT_FOUND)
        error = _error(response)
        code = error.error.code if error.error is not None else None
        return ArmReading(ReadStatus.UNAVAILABLE, detail=f"Azure answered {response.status_code}" + (f" {code}" if code else ""))

    async def list(self, path: str, api_version: str) -> list[dict[str, Any]] | None:
        """Every item of the collection at `path`, following `nextLink`; None when Azure could not be asked."""
        items: list[dict[str, Any]] = []
        reading = await self.read(path, api_version)
        for _ in range(MAX_PAGES):
            if reading.status is ReadStatus.NOT_FOUND:
                return items
            if reading.status is not ReadStatus.FOUND or not isinstance(reading.body, dict):
                return None
            items += [i for i in reading.body.get("value") or [] if isinstance(i, dict)]
            link = reading.body.get("nextLink")
            if not isinstance(link, str) or not link.startswith(self.endpoint + "/"):
                return items  # the bot's token goes only to the ARM endpoint it was configured with
            reading = await self._read_url(link)
        return items

    async def _read_url(self, url: str) -> ArmReading:
        from azure.core.rest import HttpRequest

        try:
            response = await self._agent_pipeline().send_request(HttpRequest("GET", url))
        except (*_UNREACHABLE, ClientAuthenticationError) as e:
            return ArmReading(ReadStatus.UNAVAILABLE, detail=type(e).__name__)
        return ArmReading(ReadStatus.FOUND, response.json()) if response.status_code == 200 else ArmReading(ReadStatus.UNAVAILABLE)


def _error(response: Any) -> HttpResponseError:
    """ARM's error body read as the management SDKs read it (ARMErrorFormat: code, message, details)."""
    from azure.mgmt.core.exceptions import ARMErrorFormat

    return HttpResponseError(response=response, error_format=ARMErrorFormat)
