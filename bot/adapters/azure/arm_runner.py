"""Runs VM actions through azure-mgmt-compute (async) and maps Azure's answers to plain outcomes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.mgmt.compute.aio import ComputeManagementClient

from ...domain.plan import AccessDenied, Operation, PlannedAction, ResourceRef
from ...ports import AzureError, AzureProblem, Credential, RunResult, RunStatus

log = logging.getLogger(__name__)

BEGIN = {
    Operation.RESTART: "begin_restart",
    Operation.START: "begin_start",
    Operation.POWER_OFF: "begin_power_off",
    Operation.DEALLOCATE: "begin_deallocate",
    Operation.REDEPLOY: "begin_redeploy",
}
_AUTHZ = re.compile(
    r"The client '(?P<client>[^']*)' with object id '(?P<oid>[^']*)' does not have authorization to perform "
    r"action '(?P<action>[^']*)' over scope '(?P<scope>[^']*)'"
)
PROGRESS_POLL = 1.0
MAX_AGENT_CLIENTS = 16  # subscriptions with a pooled agent client; the least recently used one is closed beyond
CONNECTION_TIMEOUT = 10.0  # seconds to open a connection to ARM (azure-core's default is 300)
READ_TIMEOUT = 60.0  # seconds to wait for each ARM answer (azure-core's default is 300)

# ARM error codes -> what they mean for the thread. Sources:
# https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors (AuthorizationFailed,
#   Conflict, AnotherOperationInProgress, OperationNotAllowed, ResourceNotFound/NotFound, ResourceGroupNotFound,
#   SubscriptionNotFound, InvalidAuthenticationTokenTenant);
# https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-not-found (ResourceNotFound, NotFound);
# https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling (429 TooManyRequests);
# https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/troubleshooting-throttling-errors (Compute
#   throttles with 429 and code OperationNotAllowed, detail code TooManyRequests: checked before OperationNotAllowed);
# the VM restart of a stopped VM: 409 OperationNotAllowed "The operation requires the VM to be running (or set to run)."
#   (learn.microsoft.com/troubleshoot/azure/virtual-machines/allocation-failure, MicrosoftDocs/azure-docs#32404).
_PROBLEMS: dict[str, AzureProblem] = {
    "AuthorizationFailed": AzureProblem.AUTHORIZATION_FAILED,
    "OperationNotAllowed": AzureProblem.OPERATION_NOT_ALLOWED,
    "Conflict": AzureProblem.CONFLICT,
    "AnotherOperationInProgress": AzureProblem.CONFLICT,
    "OperationPreempted": AzureProblem.CONFLICT,
    "ResourceNotFound": AzureProblem.RESOURCE_NOT_FOUND,
    "NotFound": AzureProblem.RESOURCE_NOT_FOUND,
    "ResourceGroupNotFound": AzureProblem.RESOURCE_GROUP_NOT_FOUND,
    "SubscriptionNotFound": AzureProblem.SUBSCRIPTION_NOT_FOUND,
    "TooManyRequests": AzureProblem.THROTTLED,
    "AuthenticationFailed": AzureProblem.AUTHENTICATION_FAILED,
    "ExpiredAuthenticationToken": AzureProblem.AUTHENTICATION_FAILED,
}


@dataclass
class _Pooled:
    client: ComputeManagementClient
    users: int = 0


class ArmRunner:
    """ActionRunner over ARM. `agent` is the agent identity, used for reads and agent-run actions."""

    def __init__(
        self,
        endpoint: str,
        agent: Any,
        subscription_id: str | None,
        ca_bundle: str | None = None,
        polling_interval: float | None = None,
        max_agent_clients: int = MAX_AGENT_CLIENTS,
        connection_timeout: float = CONNECTION_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.scope = f"{self.endpoint}/.default"
        self.user_scope = f"{self.endpoint}/user_impersonation"
        self._agent = agent
        self._subscription = subscription_id
        # azure-core hands these to its aiohttp transport: every ARM request (and LRO poll) is bounded
        self._client_kwargs: dict[str, Any] = {"connection_timeout": connection_timeout, "read_timeout": read_timeout}
        if ca_bundle:
            self._client_kwargs["connection_verify"] = ca_bundle
        if polling_interval is not None:
            self._client_kwargs["polling_interval"] = polling_interval
        self._max_agent_clients = max(1, max_agent_clients)
        self._agent_clients: OrderedDict[str, _Pooled] = OrderedDict()

    def _client(self, credential: Any, subscription_id: str) -> ComputeManagementClient:
        # a user's On-Behalf-Of token asks for the delegated permission; the agent's for .default
        scope = self.scope if credential is self._agent else self.user_scope
        return ComputeManagementClient(
            credential, subscription_id, base_url=self.endpoint, credential_scopes=[scope], **self._client_kwargs
        )

    @property
    def live_agent_clients(self) -> int:
        """How many pooled agent clients are open (bounded by max_agent_clients, plus any in use beyond it)."""
        return len(self._agent_clients)

    @asynccontextmanager
    async def _agent_client(self, subscription_id: str) -> AsyncIterator[ComputeManagementClient]:
        """A pooled client per subscription for the agent identity (clients are costly to build), least recently
        used first out: a client is closed when evicted, never while a call is using it."""
        key = subscription_id.lower()
        pooled = self._agent_clients.get(key)
        if pooled is None:
            pooled = self._agent_clients[key] = _Pooled(self._client(self._agent, subscription_id))
        self._agent_clients.move_to_end(key)
        pooled.users += 1
        try:
            yield pooled.client
        finally:
            pooled.users -= 1
            await self._evict()

    async def _evict(self) -> None:
        # one at a time, re-checked after each await: a client picked up meanwhile is in use and stays open
        while len(self._agent_clients) > self._max_agent_clients:
            key = next((k for k, p in self._agent_clients.items() if p.users == 0), None)  # the oldest idle one
            if key is None:
                return  # all in use: the pool shrinks back as they are released
            await self._agent_clients.pop(key).client.close()

    async def close(self) -> None:
        while self._agent_clients:
            await self._agent_clients.popitem(last=False)[1].client.close()

    @asynccontextmanager
    async def _client_for(self, credential: Credential, subscription_id: str) -> AsyncIterator[ComputeManagementClient]:
        if credential is self._agent:
            async with self._agent_client(subscription_id) as client:
                yield client
        else:  # a user's client lives for one run only, like the user's credential
            async with self._client(credential, subscription_id) as client:
                yield client

    async def run(self, action: PlannedAction, credential: Credential, progress: Callable[[str], Awaitable[None]]) -> RunResult:
        r = action.resource
        accepted = False
        try:
            async with self._client_for(credential, r.subscription_id) as client:
                try:
                    poller = await getattr(client.virtual_machines, BEGIN[action.operation])(r.resource_group, r.name)
                except HttpResponseError as e:
                    return await self._refused(e, action)
                accepted = True
                await progress("accepted by Azure, in progress")
                done = asyncio.ensure_future(poller.result())
                while not done.done():
                    await asyncio.wait({done}, timeout=PROGRESS_POLL)
                    if not done.done():
                        await progress(f"Azure reports {poller.status()}")
                try:
                    await done
                except HttpResponseError as e:  # the status body's error.code says why the operation failed
                    state = await self.power_state(r)
                    return RunResult(
                        RunStatus.FAILED,
                        "the operation failed",
                        power_state=state,
                        problem=AzureProblem.OPERATION_FAILED,
                        azure_error=_azure_error(e),
                    )
        except (TimeoutError, ServiceRequestError, ServiceResponseError) as e:
            log.info("ARM unreachable for %s: %s", r.name, type(e).__name__)
            when = ", after Azure accepted the action" if accepted else ""
            return RunResult(RunStatus.FAILED, f"{type(e).__name__}{when}", problem=AzureProblem.UNREACHABLE)
        state = await self.power_state(r)
        return RunResult(
            RunStatus.SUCCEEDED,
            "Azure reports the operation succeeded" + (f"; the VM is now {state}." if state else "."),
            power_state=state,
        )

    async def _refused(self, e: HttpResponseError, action: PlannedAction) -> RunResult:
        """ARM refused the request: map Azure's error code; read the VM's state when the code depends on it."""
        result = map_error(e, action)
        if result.problem in (AzureProblem.OPERATION_NOT_ALLOWED, AzureProblem.CONFLICT):
            return RunResult(
                result.status,
                result.detail,
                result.access_denied,
                await self.power_state(action.resource),
                result.problem,
                result.azure_error,
            )
        return result

    async def power_state(self, resource: ResourceRef) -> str | None:
        try:
            async with self._agent_client(resource.subscription_id) as client:
                view = await client.virtual_machines.instance_view(resource.resource_group, resource.name)
        except (TimeoutError, HttpResponseError, ServiceRequestError, ServiceResponseError) as e:
            log.info("power state of %s unavailable: %s", resource.name, type(e).__name__)
            return None
        for status in view.statuses or []:
            if (status.code or "").startswith("PowerState/"):
                return str(status.code).split("/", 1)[1]
        return None

    async def list_vms(self) -> list[ResourceRef]:
        """Every VM the agent identity can read in the default subscription."""
        if not self._subscription:
            return []
        async with self._agent_client(self._subscription) as client:
            return [ResourceRef.parse(str(vm.id)) async for vm in client.virtual_machines.list_all()]


def _azure_error(e: HttpResponseError) -> AzureError | None:
    if e.error is None or not e.error.code:
        return None
    return AzureError(str(e.error.code), str(e.error.message or ""))


def _problem(e: HttpResponseError) -> AzureProblem:
    """By Azure's error code; the HTTP status only tells throttling (429 may come without a body)."""
    code = e.error.code if e.error is not None else None
    details = {d.code for d in (e.error.details or [])} if e.error is not None else set()
    if e.status_code == 429 or code == "TooManyRequests" or "TooManyRequests" in details:
        return AzureProblem.THROTTLED
    if code and code.startswith("InvalidAuthenticationToken"):  # ...Token, ...TokenTenant, ...TokenAudience
        return AzureProblem.AUTHENTICATION_FAILED
    return _PROBLEMS.get(code or "", AzureProblem.OTHER)


def map_error(e: HttpResponseError, action: PlannedAction) -> RunResult:
    """What ARM's refusal of `action` means; only AuthorizationFailed starts the credentials flow."""
    problem, said = _problem(e), _azure_error(e)
    if problem is AzureProblem.AUTHORIZATION_FAILED:
        message = said.message if said else ""
        m = _AUTHZ.search(message)
        denied = AccessDenied(
            permission=m["action"] if m else action.operation.rbac_action,
            scope=m["scope"] if m else action.resource.id,
            identity=m["client"] if m else "the caller",
            message=message,
        )
        return RunResult(
            RunStatus.REFUSED,
            f"Azure refused: {denied.identity} lacks {denied.permission} on {denied.scope}.",
            denied,
            problem=problem,
            azure_error=said,
        )
    return RunResult(RunStatus.FAILED, f"Azure answered {e.status_code or 'an error'}", problem=problem, azure_error=said)
