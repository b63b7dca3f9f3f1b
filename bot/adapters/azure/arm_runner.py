"""Runs VM actions through azure-mgmt-compute (async) and maps Azure's answers to plain outcomes."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.mgmt.compute.aio import ComputeManagementClient

from ...domain.plan import AccessDenied, Operation, PlannedAction, ResourceRef
from ...ports import Credential, RunResult

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


class ArmRunner:
    """ActionRunner over ARM. `agent` is the agent identity, used for reads and agent-run actions."""

    def __init__(self, endpoint: str, agent: Any, subscription_id: str | None, ca_bundle: str | None = None,
                 polling_interval: float | None = None) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.scope = f"{self.endpoint}/.default"
        self.user_scope = f"{self.endpoint}/user_impersonation"
        self._agent = agent
        self._subscription = subscription_id
        self._client_kwargs: dict[str, Any] = {"connection_verify": ca_bundle} if ca_bundle else {}
        if polling_interval is not None:
            self._client_kwargs["polling_interval"] = polling_interval
        self._agent_clients: dict[str, ComputeManagementClient] = {}

    def _client(self, credential: Any, subscription_id: str) -> ComputeManagementClient:
        # a user's On-Behalf-Of token asks for the delegated permission; the agent's for .default
        scope = self.scope if credential is self._agent else self.user_scope
        return ComputeManagementClient(credential, subscription_id, base_url=self.endpoint,
                                       credential_scopes=[scope], **self._client_kwargs)

    def _agent_client(self, subscription_id: str) -> ComputeManagementClient:
        """One pooled client per subscription for the agent identity (clients are costly to build)."""
        if subscription_id not in self._agent_clients:
            self._agent_clients[subscription_id] = self._client(self._agent, subscription_id)
        return self._agent_clients[subscription_id]

    async def close(self) -> None:
        for client in self._agent_clients.values():
            await client.close()
        self._agent_clients.clear()

    async def run(self, action: PlannedAction, credential: Credential,
                  progress: Callable[[str], Awaitable[None]]) -> RunResult:
        r = action.resource
        own_client = credential is not self._agent
        client = self._client(credential, r.subscription_id) if own_client else self._agent_client(r.subscription_id)
        try:
            poller = await getattr(client.virtual_machines, BEGIN[action.operation])(r.resource_group, r.name)
            await progress("accepted by Azure, in progress")
            done = asyncio.ensure_future(poller.result())
            while not done.done():
                await asyncio.wait({done}, timeout=PROGRESS_POLL)
                if not done.done():
                    await progress(f"Azure reports {poller.status()}")
            await done
            state = await self.power_state(r)
            return RunResult("succeeded", "Azure reports the operation succeeded" + (f"; the VM is now {state}." if state else "."),
                             power_state=state)
        except HttpResponseError as e:
            return _map_error(e, action)
        except ServiceRequestError as e:
            return RunResult("failed", f"Azure could not be reached ({type(e).__name__}). The action may not have started.")
        finally:
            if own_client:
                await client.close()

    async def power_state(self, resource: ResourceRef) -> str | None:
        try:
            view = await self._agent_client(resource.subscription_id).virtual_machines.instance_view(
                resource.resource_group, resource.name)
        except (HttpResponseError, ServiceRequestError) as e:
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
        client = self._agent_client(self._subscription)
        return [ResourceRef.parse(str(vm.id)) async for vm in client.virtual_machines.list_all()]

def _map_error(e: HttpResponseError, action: PlannedAction) -> RunResult:
    code = e.error.code if e.error is not None else None
    message = (e.error.message if e.error is not None else None) or e.message or ""
    if e.status_code == 403 and code == "AuthorizationFailed":
        m = _AUTHZ.search(message)
        denied = AccessDenied(
            permission=m["action"] if m else action.operation.rbac_action,
            scope=m["scope"] if m else action.resource.id,
            identity=m["client"] if m else "the caller",
            message=message,
        )
        return RunResult("refused", f"Azure refused: {denied.identity} lacks {denied.permission} on {denied.scope}.", denied)
    if isinstance(e, ResourceNotFoundError):
        return RunResult("failed", f"The VM {action.resource.name} was not found in resource group {action.resource.resource_group}.")
    if isinstance(e, ClientAuthenticationError):
        return RunResult("failed", "Azure did not accept the identity's sign-in (authentication failed).")
    if e.status_code == 409:
        return RunResult("failed", f"Azure refused because another operation is in progress on {action.resource.name}.")
    return RunResult("failed", f"Azure answered {e.status_code or 'an error'} {code or ''}: {message}".replace("  ", " "))
