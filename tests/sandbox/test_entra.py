"""The Entra simulator, driven by azure-identity and msal as the bot drives the real service."""

from __future__ import annotations

import json

import jwt
import msal
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential, OnBehalfOfCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

from sandbox import Sandbox
from sandbox.registrations import variant
from sandbox.world import GRAPH_RESOURCE, TEAMS_CLIENT_ID, OboError, demo_world

from ..conftest import each_token_version

ARM_SCOPE = "{arm}/.default"
TEAMS_WEB_CLIENT_ID = "5e3ce6c0-2b1f-4285-8d4b-75ee78787346"
sandbox = each_token_version()  # every test here runs with the bot's API on v1 tokens (the file as written) and v2


def _agent_credential(box: Sandbox, secret: str | None = None) -> ClientSecretCredential:
    a = box.world.agent
    return ClientSecretCredential(
        box.world.home_tenant_id,
        a.client_id,
        secret or a.secret,
        authority=box.entra.base_url,
        disable_instance_discovery=True,
    )


def _obo(box: Sandbox, user_assertion: str) -> OnBehalfOfCredential:
    b = box.world.bot
    return OnBehalfOfCredential(
        box.world.home_tenant_id,
        b.client_id,
        client_secret=b.secret,
        user_assertion=user_assertion,
        authority=box.entra.base_url,
        disable_instance_discovery=True,
    )


def _claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_documents_name_issuer_token_endpoint_and_the_same_keys(sandbox: Sandbox) -> None:
    tid = sandbox.world.home_tenant_id
    doc = requests.get(f"{sandbox.entra.base_url}/{tid}/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == f"{sandbox.entra.base_url}/{tid}/v2.0"
    assert doc["token_endpoint"] == f"{sandbox.entra.base_url}/{tid}/oauth2/v2.0/token"
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] for k in keys)
    v1 = requests.get(f"{sandbox.entra.base_url}/{tid}/.well-known/openid-configuration", timeout=5).json()
    assert v1["issuer"] == f"https://sts.windows.net/{tid}/"  # literally, as Microsoft publishes it
    assert requests.get(v1["jwks_uri"], timeout=5).json()["keys"] == keys


def test_unknown_tenant_is_refused(sandbox: Sandbox) -> None:
    r = requests.get(f"{sandbox.entra.base_url}/no-such-tenant/v2.0/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 400 and "AADSTS90002" in r.json()["error_description"]


def test_client_secret_credential_gets_a_v1_app_token_for_arm(sandbox: Sandbox) -> None:
    token = _agent_credential(sandbox).get_token(ARM_SCOPE.format(arm=sandbox.arm.base_url)).token
    claims = _claims(token)
    assert claims["aud"] == sandbox.arm.base_url
    assert claims["oid"] == sandbox.world.agent.object_id and claims["idtyp"] == "app"
    tid = sandbox.world.home_tenant_id
    assert (claims["ver"], claims["iss"], claims["appid"], claims["appidacr"]) == (
        "1.0",
        f"https://sts.windows.net/{tid}/",
        sandbox.world.agent.client_id,
        "1",
    )
    assert "azp" not in claims  # Microsoft's own resources get v1 tokens, whatever the bot's registration says
    assert sandbox.keys.verify(token, audience=sandbox.arm.base_url)["tid"] == tid


async def test_async_client_secret_credential_works_too(sandbox: Sandbox) -> None:
    a = sandbox.world.agent
    async with AsyncClientSecretCredential(
        sandbox.world.home_tenant_id, a.client_id, a.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    ) as cred:
        token = await cred.get_token(ARM_SCOPE.format(arm=sandbox.arm.base_url))
    assert _claims(token.token)["appid"] == a.client_id


def test_wrong_client_secret_surfaces_as_invalid_client(sandbox: Sandbox) -> None:
    with pytest.raises(ClientAuthenticationError) as e:
        _agent_credential(sandbox, secret="not-the-secret").get_token(ARM_SCOPE.format(arm=sandbox.arm.base_url))
    assert "AADSTS7000215" in e.value.message


def test_app_token_for_the_bot_api_carries_its_app_roles_in_the_registered_version(sandbox: Sandbox) -> None:
    bot = sandbox.world.bot
    claims = _claims(_agent_credential(sandbox).get_token(f"{bot.app_id_uri}/.default").token)
    assert claims["roles"] == ["Plans.Submit"] and claims["idtyp"] == "app"
    if bot.token_version == 1:
        assert (claims["ver"], claims["aud"], claims["appid"]) == ("1.0", bot.app_id_uri, sandbox.world.agent.client_id)
        assert claims["iss"] == f"https://sts.windows.net/{sandbox.world.home_tenant_id}/"
    else:
        assert (claims["ver"], claims["aud"], claims["azp"]) == ("2.0", bot.client_id, sandbox.world.agent.client_id)
        assert claims["iss"] == f"{sandbox.entra.base_url}/{sandbox.world.home_tenant_id}/v2.0"


def test_the_v2_token_endpoint_refuses_a_resource_parameter_that_is_not_the_scopes(sandbox: Sandbox) -> None:
    """What an MCP client that sends RFC 8707's `resource` (its MCP server's URL) meets at Entra's v2 endpoint."""
    agent, scope = sandbox.world.agent, f"{sandbox.world.bot.app_id_uri}/.default"
    url = f"{sandbox.entra.base_url}/{sandbox.world.home_tenant_id}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": agent.client_id, "client_secret": agent.secret, "scope": scope}
    verify = str(sandbox.tls.ca_path)
    refused = requests.post(url, data={**form, "resource": "https://consent.contoso.example/mcp"}, timeout=10, verify=verify)
    assert refused.status_code == 400 and "AADSTS9010010" in refused.json()["error_description"]
    assert requests.post(url, data=form, timeout=10, verify=verify).status_code == 200


def test_a_role_reaches_a_token_only_if_the_registration_defines_it(sandbox: Sandbox) -> None:
    roles = sandbox.world.agent.api_roles[sandbox.world.bot.app_id_uri or ""]
    roles.add("Plans.Delete")  # assigned, but the file defines no such app role
    try:
        claims = _claims(_agent_credential(sandbox).get_token(f"{sandbox.world.bot.app_id_uri}/.default").token)
    finally:
        roles.discard("Plans.Delete")
    assert claims["roles"] == ["Plans.Submit"]


def test_sso_token_looks_like_the_one_teams_hands_the_bot(sandbox: Sandbox) -> None:
    alice, bot = sandbox.world.user("alice"), sandbox.world.bot
    claims = _claims(sandbox.entra.sso_token("alice"))
    assert (claims["scp"], claims["oid"], claims["tid"]) == ("access_as_user", alice.object_id, alice.tenant_id)
    assert claims["name"] == alice.display_name
    if bot.token_version == 1:  # aud is the Application ID URI Teams asked for; the client is appid; upn
        assert (claims["ver"], claims["aud"], claims["appid"], claims["appidacr"]) == ("1.0", bot.app_id_uri, TEAMS_CLIENT_ID, "0")
        assert claims["upn"] == claims["unique_name"] == alice.upn and "azp" not in claims
        assert claims["iss"] == f"https://sts.windows.net/{alice.tenant_id}/"
    else:  # aud is always the API's client id; the client is azp; preferred_username
        assert (claims["ver"], claims["aud"], claims["azp"], claims["azpacr"]) == ("2.0", bot.client_id, TEAMS_CLIENT_ID, "0")
        assert claims["preferred_username"] == alice.upn and "appid" not in claims
        assert claims["iss"] == f"{sandbox.entra.base_url}/{alice.tenant_id}/v2.0"


def test_sso_tokens_go_only_to_the_pre_authorized_teams_clients(sandbox: Sandbox) -> None:
    url = f"{sandbox.entra.base_url}/sandbox/users/alice/sso-token"
    assert requests.post(url, json={"clientId": TEAMS_WEB_CLIENT_ID}, timeout=5).status_code == 200
    r = requests.post(url, json={"clientId": sandbox.world.apps["unlisted-app"].client_id}, timeout=5)
    assert r.status_code == 400 and r.json()["error_codes"] == [65001] and r.json()["suberror"] == "consent_required"


def test_a_registration_without_pre_authorized_teams_clients_gets_no_sso_token(tmp_path: object) -> None:
    data = json.loads(json.dumps(variant().raw))
    data["bot"]["api"]["preAuthorizedApplications"] = []
    from sandbox.entra import EntraError, EntraSimulator
    from sandbox.keys import KeySet
    from sandbox.registrations import from_dict

    entra = EntraSimulator(demo_world(registrations=from_dict(data)), KeySet())
    with pytest.raises(EntraError) as e:
        entra.sso_token("alice")
    assert e.value.code == 65001


def test_sso_token_endpoint_mints_for_a_named_user(sandbox: Sandbox) -> None:
    r = requests.post(f"{sandbox.entra.base_url}/sandbox/users/bob/sso-token", json={}, timeout=5)
    assert _claims(r.json()["token"])["oid"] == sandbox.world.user("bob").object_id
    assert requests.post(f"{sandbox.entra.base_url}/sandbox/users/nobody/sso-token", json={}, timeout=5).status_code == 404


def test_on_behalf_of_credential_exchanges_alice_sso_token_for_a_v1_arm_token(sandbox: Sandbox) -> None:
    scope = f"{sandbox.arm.base_url}/user_impersonation"
    token = _obo(sandbox, sandbox.entra.sso_token("alice")).get_token(scope).token
    claims = _claims(token)
    assert claims["oid"] == sandbox.world.user("alice").object_id
    assert (claims["aud"], claims["scp"], claims["idtyp"]) == (sandbox.arm.base_url, "user_impersonation", "user")
    assert (claims["ver"], claims["appid"], claims["upn"]) == ("1.0", sandbox.world.bot.client_id, sandbox.world.user("alice").upn)


def test_msal_acquire_token_on_behalf_of(sandbox: Sandbox) -> None:
    b = sandbox.world.bot
    app = msal.ConfidentialClientApplication(
        b.client_id,
        client_credential=b.secret,
        authority=f"{sandbox.entra.base_url}/{sandbox.world.home_tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_on_behalf_of(sandbox.entra.sso_token("alice"), [f"{sandbox.arm.base_url}/user_impersonation"])
    assert "access_token" in result, result
    assert _claims(result["access_token"])["oid"] == sandbox.world.user("alice").object_id


@pytest.mark.parametrize(
    ("mode", "error", "code", "suberror"),
    [
        (OboError.MFA_REQUIRED, "interaction_required", 50076, "basic_action"),
        (OboError.CONSENT_REQUIRED, "invalid_grant", 65001, "consent_required"),
        (OboError.INVALID_ASSERTION, "invalid_grant", 500133, None),
        (OboError.ACCOUNT_DISABLED, "invalid_grant", 50057, None),
    ],
)
def test_obo_error_modes_surface_through_azure_identity(
    sandbox: Sandbox, mode: OboError, error: str, code: int, suberror: str | None
) -> None:
    sandbox.entra.set_obo_error("alice", mode)
    with pytest.raises(ClientAuthenticationError) as e:
        _obo(sandbox, sandbox.entra.sso_token("alice")).get_token(f"{sandbox.arm.base_url}/user_impersonation")
    assert f"AADSTS{code}" in e.value.message
    body = json.loads(e.value.response.text())
    assert (body["error"], body["error_codes"], body.get("suberror")) == (error, [code], suberror)
    if mode is OboError.MFA_REQUIRED:
        assert "capolids" in json.loads(body["claims"])["access_token"]


@pytest.mark.parametrize("mode", list(OboError))
def test_obo_error_modes_surface_through_msal(sandbox: Sandbox, mode: OboError) -> None:
    sandbox.entra.set_obo_error("alice", mode)
    b = sandbox.world.bot
    app = msal.ConfidentialClientApplication(
        b.client_id,
        client_credential=b.secret,
        authority=f"{sandbox.entra.base_url}/{sandbox.world.home_tenant_id}",
        instance_discovery=False,
    )
    result = app.acquire_token_on_behalf_of(sandbox.entra.sso_token("alice"), [f"{sandbox.arm.base_url}/user_impersonation"])
    assert "access_token" not in result and result["error"] in ("invalid_grant", "interaction_required")
    if mode is OboError.MFA_REQUIRED:
        assert result["claims"] and result["error_codes"] == [50076]


def test_expired_assertion_is_refused_with_500133(sandbox: Sandbox) -> None:
    expired = sandbox.entra.sso_token("alice", lifetime=-60)
    with pytest.raises(ClientAuthenticationError) as e:
        _obo(sandbox, expired).get_token(f"{sandbox.arm.base_url}/user_impersonation")
    assert "AADSTS500133" in e.value.message


def test_assertion_for_another_audience_is_refused(sandbox: Sandbox) -> None:
    other = sandbox.entra.sso_token("alice", audience="api://someone-else")
    with pytest.raises(ClientAuthenticationError) as e:
        _obo(sandbox, other).get_token(f"{sandbox.arm.base_url}/user_impersonation")
    assert "AADSTS50013" in e.value.message


def test_key_rotation_keeps_old_tokens_verifiable(sandbox: Sandbox) -> None:
    before = sandbox.entra.sso_token("carol")
    sandbox.keys.rotate()
    after = sandbox.entra.sso_token("carol")
    assert jwt.get_unverified_header(before)["kid"] != jwt.get_unverified_header(after)["kid"]
    for token in (before, after):
        sandbox.keys.verify(token, audience=[sandbox.world.bot.app_id_uri, sandbox.world.bot.client_id])


def _check_member_groups(sandbox: Sandbox, graph_roles: set[str] | None = None, user: str = "alice") -> requests.Response:
    """checkMemberGroups for `user` with the agent's token, the agent holding `graph_roles` (default: the file's)."""
    agent = sandbox.world.agent
    saved = set(agent.api_roles[GRAPH_RESOURCE])
    if graph_roles is not None:
        agent.api_roles[GRAPH_RESOURCE] = graph_roles
    try:
        token = _agent_credential(sandbox).get_token(f"{sandbox.entra.base_url}/.default").token
    finally:
        agent.api_roles[GRAPH_RESOURCE] = saved
    group = sandbox.world.groups[0].object_id
    url = f"{sandbox.entra.base_url}/v1.0/users/{sandbox.world.user(user).object_id}/checkMemberGroups"
    return requests.post(url, json={"groupIds": [group]}, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_graph_check_member_groups_with_the_files_permissions(sandbox: Sandbox) -> None:
    group = sandbox.world.groups[0].object_id
    assert sandbox.world.agent.api_roles[GRAPH_RESOURCE] == {"User.Read.All", "GroupMember.Read.All"}
    r = _check_member_groups(sandbox)
    assert r.status_code == 200 and r.json()["value"] == [group]
    assert _check_member_groups(sandbox, user="bob").json()["value"] == []
    app = sandbox.world.apps["unlisted-app"]
    weak = (
        ClientSecretCredential(
            sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
        )
        .get_token(f"{sandbox.entra.base_url}/.default")
        .token
    )
    url = f"{sandbox.entra.base_url}/v1.0/users/{sandbox.world.user('alice').object_id}/checkMemberGroups"
    assert requests.post(url, json={"groupIds": [group]}, headers={"Authorization": f"Bearer {weak}"}, timeout=5).status_code == 403


@pytest.mark.parametrize(
    ("roles", "status"),
    [
        ({"GroupMember.Read.All"}, 403),  # without User.Read.All
        ({"User.Read.All"}, 403),
        ({"User.Read.All", "Group.Read.All"}, 200),
        ({"Directory.Read.All"}, 200),
    ],
)
def test_graph_check_member_groups_needs_one_of_the_documented_permission_sets(sandbox: Sandbox, roles: set[str], status: int) -> None:
    r = _check_member_groups(sandbox, roles)
    assert r.status_code == status
    if status == 403:
        assert r.json()["error"]["code"] == "Authorization_RequestDenied"


def _agent_token(sandbox: Sandbox) -> str:
    agent = sandbox.world.agent
    credential = ClientSecretCredential(
        sandbox.world.home_tenant_id, agent.client_id, agent.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
    )
    return str(credential.get_token(f"{sandbox.entra.base_url}/.default").token)


def test_graph_lists_a_groups_transitive_members_to_the_agent_and_pages_with_top(sandbox: Sandbox) -> None:
    group = sandbox.world.groups[0]
    url = f"{sandbox.entra.base_url}/v1.0/groups/{group.object_id}/transitiveMembers"
    headers = {"Authorization": f"Bearer {_agent_token(sandbox)}"}
    r = requests.get(url, params={"$select": "id", "$top": "5"}, headers=headers, timeout=5)
    assert r.status_code == 200
    assert [(m["@odata.type"], m["id"]) for m in r.json()["value"]] == [("#microsoft.graph.user", sandbox.world.user("alice").object_id)]
    assert "@odata.nextLink" not in r.json()
    missing = requests.get(
        f"{sandbox.entra.base_url}/v1.0/groups/{'0' * 8}-0000-0000-0000-{'0' * 12}/transitiveMembers", headers=headers, timeout=5
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    app = sandbox.world.apps["unlisted-app"]
    weak = (
        ClientSecretCredential(
            sandbox.world.home_tenant_id, app.client_id, app.secret, authority=sandbox.entra.base_url, disable_instance_discovery=True
        )
        .get_token(f"{sandbox.entra.base_url}/.default")
        .token
    )
    assert requests.get(url, headers={"Authorization": f"Bearer {weak}"}, timeout=5).status_code == 403


async def test_the_graph_directory_lists_group_members_through_the_agent_identity(sandbox: Sandbox) -> None:
    from azure.identity.aio import ClientSecretCredential as AsyncCredential

    from bot.adapters.azure.graph import GraphDirectory

    agent = sandbox.world.agent
    async with AsyncCredential(
        sandbox.world.home_tenant_id,
        agent.client_id,
        agent.secret,
        authority=sandbox.entra.base_url,
        disable_instance_discovery=True,
        connection_verify=str(sandbox.tls.ca_path),
    ) as credential:
        directory = GraphDirectory(sandbox.entra.base_url, credential, str(sandbox.tls.ca_path))
        assert await directory.group_members(sandbox.world.groups[0].object_id, 25) == [sandbox.world.user("alice").object_id]
