"""The ARM simulator, driven by the azure-mgmt-compute async client with azure-identity credentials."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity.aio import ClientSecretCredential, OnBehalfOfCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from sandbox import Sandbox
from sandbox.arm import Fault
from sandbox.keys import SigningKey


def _client(box: Sandbox, credential: object, **kw: object) -> ComputeManagementClient:
    return ComputeManagementClient(
        credential,
        box.world.subscription_id,
        base_url=box.arm.base_url,
        credential_scopes=[f"{box.arm.base_url}/.default"],
        polling_interval=0.01,
        **kw,
    )


@pytest.fixture
async def agent(sandbox: Sandbox) -> AsyncIterator[ComputeManagementClient]:
    a = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    async with cred, _client(sandbox, cred) as client:
        yield client


async def _user_client(box: Sandbox, name: str) -> tuple[OnBehalfOfCredential, ComputeManagementClient]:
    b = box.world.bot
    cred = OnBehalfOfCredential(
        box.world.home_tenant_id,
        b.client_id,
        client_secret=b.secret,
        user_assertion=box.entra.sso_token(name),
        authority=box.entra.base_url,
        disable_instance_discovery=True,
    )
    return cred, _client(box, cred)


async def _power(client: ComputeManagementClient, rg: str, vm: str) -> str:
    view = await client.virtual_machines.instance_view(rg, vm)
    return next(s.code for s in view.statuses or [] if (s.code or "").startswith("PowerState/"))


class _StaticToken:
    """An async TokenCredential returning a fixed token (to present tokens Entra would never issue)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kw: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        pass


async def test_restart_changes_power_state_and_counts_one_write(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    writes_before = sandbox.arm.writes_to("dev-01", sandbox.world.agent.object_id)
    poller = await agent.virtual_machines.begin_restart("dev-rg", "dev-01")
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/starting"
    await poller.result()
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/running"
    assert sandbox.arm.writes_to("dev-01", sandbox.world.agent.object_id) == writes_before + 1


async def test_power_off_deallocate_start_and_redeploy(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    vms = agent.virtual_machines
    await (await vms.begin_power_off("dev-rg", "dev-01")).result()
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/stopped"
    await (await vms.begin_deallocate("dev-rg", "dev-01")).result()
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/deallocated"
    await (await vms.begin_start("dev-rg", "dev-01")).result()
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/running"
    await (await vms.begin_redeploy("dev-rg", "dev-01")).result()
    assert await _power(agent, "dev-rg", "dev-01") == "PowerState/running"


async def test_get_with_instance_view_and_list(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    vm = await agent.virtual_machines.get("prod-rg", "web-01", expand="instanceView")
    assert vm.name == "web-01" and vm.instance_view is not None
    names = sorted([v.name async for v in agent.virtual_machines.list_all()])
    assert names == ["dev-01", "web-01", "web-02"]


async def test_reader_identity_gets_authorization_failed_naming_action_caller_and_scope(
    sandbox: Sandbox, agent: ComputeManagementClient
) -> None:
    since = len(sandbox.arm.writes)
    with pytest.raises(HttpResponseError) as e:
        await agent.virtual_machines.begin_restart("prod-rg", "web-01")
    assert e.value.status_code == 403 and e.value.error is not None
    assert e.value.error.code == "AuthorizationFailed"
    message = e.value.error.message or ""
    assert "Microsoft.Compute/virtualMachines/restart/action" in message
    assert sandbox.world.agent.object_id in message
    assert "/resourceGroups/prod-rg/providers/Microsoft.Compute/virtualMachines/web-01" in message
    assert sandbox.arm.writes_to("web-01", since=since) == 0


async def test_user_rights_apply_on_behalf_of(sandbox: Sandbox) -> None:
    since = len(sandbox.arm.writes)
    alice_cred, alice = await _user_client(sandbox, "alice")
    async with alice_cred, alice:
        await (await alice.virtual_machines.begin_restart("prod-rg", "web-02")).result()
    assert sandbox.arm.writes_to("web-02", sandbox.world.user("alice").object_id, since) == 1
    bob_cred, bob = await _user_client(sandbox, "bob")
    async with bob_cred, bob:
        with pytest.raises(HttpResponseError) as e:
            await bob.virtual_machines.begin_restart("prod-rg", "web-02")
    assert e.value.error is not None and e.value.error.code == "AuthorizationFailed"
    assert sandbox.arm.writes_to("web-02", sandbox.world.user("bob").object_id, since) == 0


async def test_unknown_vm_is_resource_not_found(agent: ComputeManagementClient) -> None:
    with pytest.raises(ResourceNotFoundError) as e:
        await agent.virtual_machines.get("dev-rg", "nope-01")
    assert e.value.error is not None and e.value.error.code == "ResourceNotFound"


@pytest.mark.parametrize("case", ["expired", "wrong_key", "wrong_audience", "other_tenant"])
async def test_bad_tokens_are_401(sandbox: Sandbox, case: str) -> None:
    now = int(time.time())
    tid = sandbox.world.home_tenant_id
    claims = {
        "aud": sandbox.arm.base_url,
        "iss": f"{sandbox.entra.base_url}/{tid}/v2.0",
        "tid": tid,
        "oid": sandbox.world.user("alice").object_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    key = sandbox.keys.active
    if case == "expired":
        claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    elif case == "wrong_key":
        key = SigningKey(kid=key.kid, private_key=SigningKey.generate().private_key)
    elif case == "wrong_audience":
        claims["aud"] = "https://management.example"
    else:
        other = sandbox.world.user("mallory").tenant_id
        claims.update(tid=other, iss=f"{sandbox.entra.base_url}/{other}/v2.0")
    since = len(sandbox.arm.writes)
    async with _client(sandbox, _StaticToken(key.sign(claims))) as client:
        with pytest.raises(ClientAuthenticationError) as e:
            await client.virtual_machines.begin_restart("dev-rg", "dev-01")
    assert e.value.status_code == 401
    assert sandbox.arm.writes_to("dev-01", since=since) == 0


async def test_missing_token_is_401(sandbox: Sandbox) -> None:
    r = requests.get(
        f"{sandbox.arm.base_url}/subscriptions/{sandbox.world.subscription_id}/providers/"
        "Microsoft.Compute/virtualMachines?api-version=2026-04-01",
        timeout=5,
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationFailed"


async def test_injected_500_is_retried_by_the_sdk(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    fault = sandbox.arm.inject(Fault("status", status=500, count=1, action="restart"))
    await (await agent.virtual_machines.begin_restart("dev-rg", "dev-01", retry_backoff_factor=0.01)).result()
    assert fault.count == 0


async def test_injected_500_without_retries_surfaces(sandbox: Sandbox) -> None:
    sandbox.arm.inject(Fault("status", status=500, count=1))
    a = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    async with cred, _client(sandbox, cred, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as e:
            await client.virtual_machines.get("dev-rg", "dev-01")
    assert e.value.status_code == 500


async def test_injected_429_carries_retry_after_and_is_honoured(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    sandbox.arm.inject(Fault("status", status=429, count=1, retry_after=1))
    started = time.monotonic()
    await agent.virtual_machines.get("dev-rg", "dev-01")
    assert time.monotonic() - started >= 0.9  # the SDK waited for Retry-After
    sandbox.arm.inject(Fault("status", status=429, count=1, retry_after=7))
    r = requests.get(f"{sandbox.arm.base_url}/anything?api-version=1", timeout=5)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "7")


async def test_injected_latency_delays_the_answer(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    sandbox.arm.inject(Fault("latency", latency=0.3, count=1))
    started = time.monotonic()
    await agent.virtual_machines.get("dev-rg", "dev-01")
    assert time.monotonic() - started >= 0.3


async def test_failed_async_operation_surfaces_from_the_poller(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    sandbox.arm.inject(
        Fault(
            "operation_failure", action="start", error_code="AllocationFailed", error_message="Allocation failed. Please try again later."
        )
    )
    poller = await agent.virtual_machines.begin_start("dev-rg", "dev-01")
    with pytest.raises(HttpResponseError) as e:
        await poller.result()
    assert "AllocationFailed" in str(e.value)
    await (await agent.virtual_machines.begin_start("dev-rg", "dev-01")).result()


async def test_concurrent_write_on_a_busy_vm_is_409(sandbox: Sandbox, agent: ComputeManagementClient) -> None:
    first = await agent.virtual_machines.begin_restart("dev-rg", "dev-01")
    with pytest.raises(HttpResponseError) as e:
        await agent.virtual_machines.begin_restart("dev-rg", "dev-01")
    assert e.value.status_code == 409
    await first.result()


def test_missing_api_version_is_400(sandbox: Sandbox) -> None:
    r = requests.get(f"{sandbox.arm.base_url}/subscriptions/x/providers/Microsoft.Compute/virtualMachines", timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "MissingApiVersionParameter"


def test_fault_control_endpoint_and_write_log(sandbox: Sandbox) -> None:
    assert requests.post(f"{sandbox.arm.base_url}/sandbox/faults", json={"kind": "status", "status": 503}, timeout=5).status_code == 201
    assert requests.post(f"{sandbox.arm.base_url}/sandbox/faults", json={"bogus": 1}, timeout=5).status_code == 400
    assert requests.delete(f"{sandbox.arm.base_url}/sandbox/faults", timeout=5).status_code == 204
    assert isinstance(requests.get(f"{sandbox.arm.base_url}/sandbox/writes", timeout=5).json(), list)


@pytest.mark.parametrize("state", ["stopped", "deallocated"])
async def test_restart_of_a_vm_that_is_not_running_is_operation_not_allowed(
    sandbox: Sandbox, agent: ComputeManagementClient, state: str
) -> None:
    sandbox.arm.set_power_state("dev-01", state)
    since = len(sandbox.arm.writes)
    try:
        with pytest.raises(HttpResponseError) as e:
            await agent.virtual_machines.begin_restart("dev-rg", "dev-01")
    finally:
        sandbox.arm.set_power_state("dev-01", "running")  # as the world seeds it
    assert e.value.status_code == 409 and e.value.error is not None
    assert (e.value.error.code, e.value.error.message) == (
        "OperationNotAllowed",
        "The operation requires the VM to be running (or set to run).",
    )
    assert sandbox.arm.writes_to("dev-01", since=since) == 0


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("begin_start", "running"),
        ("begin_power_off", "stopped"),
        ("begin_power_off", "deallocated"),
        ("begin_deallocate", "deallocated"),
    ],
)
async def test_actions_azure_accepts_as_no_ops_leave_the_vm_as_it_was(
    sandbox: Sandbox, agent: ComputeManagementClient, action: str, state: str
) -> None:
    sandbox.arm.set_power_state("dev-01", state)
    try:
        await (await getattr(agent.virtual_machines, action)("dev-rg", "dev-01")).result()
        assert await _power(agent, "dev-rg", "dev-01") == f"PowerState/{state}"
    finally:
        sandbox.arm.set_power_state("dev-01", "running")  # as the world seeds it


async def test_missing_resource_group_and_subscription_are_named_as_azure_names_them(
    sandbox: Sandbox, agent: ComputeManagementClient
) -> None:
    with pytest.raises(ResourceNotFoundError) as e:
        await agent.virtual_machines.get("nope-rg", "dev-01")
    assert e.value.error is not None and e.value.error.code == "ResourceGroupNotFound"
    assert e.value.error.message == "Resource group 'nope-rg' could not be found."
    a = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    missing = "00000000-0000-0000-0000-00000000dead"
    async with (
        cred,
        ComputeManagementClient(
            cred, missing, base_url=sandbox.arm.base_url, credential_scopes=[f"{sandbox.arm.base_url}/.default"]
        ) as other,
    ):
        with pytest.raises(ResourceNotFoundError) as e:
            await other.virtual_machines.get("dev-rg", "dev-01")
        assert e.value.error is not None and e.value.error.code == "SubscriptionNotFound"
        assert e.value.error.message == f"The subscription '{missing}' could not be found."
        with pytest.raises(ResourceNotFoundError):
            [vm async for vm in other.virtual_machines.list_all()]


async def test_throttling_is_answered_as_compute_words_it(sandbox: Sandbox) -> None:
    sandbox.arm.inject(Fault("status", status=429, count=1, retry_after=30))
    a = sandbox.world.agent
    cred = ClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    async with cred, _client(sandbox, cred, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as e:
            await client.virtual_machines.begin_restart("dev-rg", "dev-01")
    assert e.value.status_code == 429 and e.value.error is not None
    assert e.value.error.code == "OperationNotAllowed"  # Compute's code for throttling, with a TooManyRequests detail
    assert [d.code for d in e.value.error.details] == ["TooManyRequests"]
