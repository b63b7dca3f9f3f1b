"""The deployment guide, the registration file, the Bicep and the Teams manifest say the same thing.

infra/app-registrations.json is the single source; the guide's commands (run here through the same `jq` programs)
apply it to a tenant, main.bicep reads it with loadJsonContent, and the manifest is built from the bot's settings.
Any one of them drifting from the file fails a test below.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.azure.sso import SSO_SCOPE, TEAMS_SSO_CLIENTS
from bot.config import SETTINGS
from manifest.package import build, validate

from .bicep import Template

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
REGISTRATIONS = INFRA / "app-registrations.json"
GUIDE = INFRA / "README.md"
APP_ID = "8f3c1f0e-5a7b-4c2d-9e1f-0a1b2c3d4e5f"
DOMAIN = "sre-consent.azurewebsites.net"

# Microsoft's published ids (first-party apps, their permissions), so a typo in the file cannot go unnoticed.
# The Teams and Microsoft 365 clients of Teams SSO, from Microsoft's table (tab-sso-register-aad): Teams desktop/mobile and
# web, Microsoft 365 web, desktop and mobile (the last also Outlook desktop), Outlook web and mobile
TEAMS_CLIENTS = {
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",
    "4765445b-32c6-49b0-83e6-1d93765276ca",
    "0ec893e0-5785-4de6-99da-4ed124e5296c",
    "d3590ed6-52b3-4102-aeff-aad2292ab01c",
    "bc59ab01-8403-45c6-8796-ac3ef710b3e3",
    "27922004-5251-4030-b22d-91ecd9a37ea4",
}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ARM_APP_ID = "797f4846-ba00-4fd7-ba43-dac1f8f63013"  # Azure Service Management
ACTION_GROUPS_APP_ID = "461e8683-5575-4561-ac7f-899cc907d62a"  # Azure Monitor action groups (secure webhook)
DELEGATED = {  # resource app id -> {permission name: id}
    ARM_APP_ID: {"user_impersonation": "41094075-9dad-400e-a0bd-54e686782033"},
    GRAPH_APP_ID: {
        "openid": "37f7f235-527c-4136-accd-4a02d197296e",
        "profile": "14dad69e-099b-42c9-810b-d002981feec1",
        "offline_access": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
    },
}
# checkMemberGroups as an application: "User.Read.All and GroupMember.Read.All" is the least-privileged pair
# (https://learn.microsoft.com/graph/api/user-checkmembergroups).
GRAPH_APP_ROLES = {"GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6", "User.Read.All": "df021288-bdef-4463-88db-98f22de89214"}
TOKEN_SERVICE = "token.botframework.com"


@pytest.fixture(scope="module", autouse=True)
def _jq_installed() -> None:
    """The guide's programs run through jq, as a deployer runs them; `make test` installs it (Debian package)."""
    assert shutil.which("jq"), "jq is missing: `make test` installs it with apt-get (package jq)"


def _registrations() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REGISTRATIONS.read_text())
    return data


def _jq(program: str, document: Any, *args: str) -> str:
    done = subprocess.run(["jq", *args, program], input=json.dumps(document), capture_output=True, text=True, check=True)
    return done.stdout


def _filled() -> dict[str, Any]:
    """The file as the guide's `fill` gives it: infra/fill.jq with the app id and domain."""
    program = (INFRA / "fill.jq").read_text()
    out: dict[str, Any] = json.loads(_jq(program, _registrations(), "--arg", "app", APP_ID, "--arg", "domain", DOMAIN))
    return out


def _guide_code() -> str:
    return "\n".join(re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.DOTALL))


def _identifier_uri() -> str:
    (uri,) = _registrations()["bot"]["identifierUris"]
    return str(uri)


def _bicep() -> Template:
    return Template(INFRA / "main.bicep", {"botAppId": "{BOT_APP_ID}", "botDomain": "{BOT_DOMAIN}", "tenantId": "{TENANT_ID}"})


def _manifest() -> dict[str, Any]:
    package = build({"MicrosoftAppId": APP_ID, "BOT_DOMAIN": DOMAIN})
    assert validate(package) == []
    return package.manifest


def _all_keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(k for v in node.values() for k in _all_keys(v))]
    if isinstance(node, list):
        return [k for v in node for k in _all_keys(v)]
    return []


# --- the registration file -------------------------------------------------------------------------------------


def test_fill_gives_a_graph_application_with_placeholders_filled_and_notes_dropped() -> None:
    filled = _filled()
    assert not [k for k in _all_keys(filled) if k.startswith("$")]
    assert "{BOT_" not in json.dumps(filled)
    assert filled["bot"]["identifierUris"] == [f"api://{DOMAIN}/botid-{APP_ID}"]
    # the guide defines `fill` with exactly this program and these arguments
    assert 'fill() { jq --arg app "$BOT_APP_ID" --arg domain "$BOT_DOMAIN" -f infra/fill.jq "$REG"; }' in _guide_code()
    assert "REG=infra/app-registrations.json" in _guide_code()


def test_identifier_uri_is_teams_ssos_pattern_and_the_connection_exchanges_for_it() -> None:
    reg = _registrations()
    assert _identifier_uri() == "api://{BOT_DOMAIN}/botid-{BOT_APP_ID}"
    assert reg["oauthConnection"]["tokenExchangeUrl"] == _identifier_uri()
    (scope,) = reg["bot"]["api"]["oauth2PermissionScopes"]
    assert scope["value"] == SSO_SCOPE  # the scope the bot checks in Teams SSO tokens
    assert reg["oauthConnection"]["scopes"] == f"{_identifier_uri()}/{SSO_SCOPE}"


def test_teams_clients_are_pre_authorized_for_the_scope() -> None:
    api = _registrations()["bot"]["api"]
    (scope,) = api["oauth2PermissionScopes"]
    assert {p["appId"] for p in api["preAuthorizedApplications"]} == TEAMS_CLIENTS
    assert set(TEAMS_SSO_CLIENTS) == TEAMS_CLIENTS  # the bot accepts SSO tokens from the same list, and no other client
    assert all(p["delegatedPermissionIds"] == [scope["id"]] for p in api["preAuthorizedApplications"])


def test_app_roles_are_the_ones_the_bot_and_azure_monitor_use() -> None:
    reg = _registrations()
    roles = {r["value"]: r for r in reg["bot"]["appRoles"]}
    api_role = next(s.default for s in SETTINGS if s.name == "API_ROLE")
    assert set(roles) == {api_role, reg["actionGroups"]["appRole"]} == {"Plans.Submit", "ActionGroupsSecureWebhook"}
    assert all(r["allowedMemberTypes"] == ["Application"] and r["isEnabled"] for r in roles.values())
    assert reg["actionGroups"]["appId"] == ACTION_GROUPS_APP_ID


def test_delegated_permissions_are_named_by_their_published_ids() -> None:
    required = _registrations()["bot"]["requiredResourceAccess"]
    assert {r["resourceAppId"]: {a["$value"]: a["id"] for a in r["resourceAccess"]} for r in required} == DELEGATED
    assert all(a["type"] == "Scope" for r in required for a in r["resourceAccess"])


def test_agent_identity_has_the_graph_permissions_check_member_groups_needs() -> None:
    roles = _registrations()["agentIdentity"]["graphAppRoles"]
    assert {r["value"]: r["id"] for r in roles} == GRAPH_APP_ROLES


def test_redirect_uri_is_the_bot_framework_token_service() -> None:
    assert _registrations()["bot"]["web"]["redirectUris"] == [f"https://{TOKEN_SERVICE}/.auth/web/redirect"]


# --- the guide's commands ----------------------------------------------------------------------------------------


def test_guide_patches_the_whole_application_scope_first_then_the_teams_clients() -> None:
    code = _guide_code()
    filters = re.findall(r"fill \| jq '([^']*)' > (\S+)", code)
    bodies = {path: json.loads(_jq(program, _filled())) for program, path in filters}
    patches = re.findall(
        r'az rest --method PATCH --url "\$GRAPH/applications/\$BOT_OBJECT_ID" \\\n\s+'
        r"--headers Content-Type=application/json --body @(\S+)",
        code,
    )
    assert len(patches) == 2, patches
    first, second = (bodies[p] for p in patches)
    assert "preAuthorizedApplications" not in first["api"]  # Graph refuses them with a scope made in the same request
    assert {**first, **second} == _filled()["bot"]  # together: exactly the file's application


def test_guide_grants_exactly_the_files_graph_app_roles_to_the_agent_identity() -> None:
    code = _guide_code()
    (program,) = re.findall(r"jq -r '(\.agentIdentity[^']*)' \"\$REG\"", code)
    granted = _jq(program, _registrations(), "-r").split()
    assert granted == [r["id"] for r in _registrations()["agentIdentity"]["graphAppRoles"]]
    assert '--url "$GRAPH/servicePrincipals/$AGENT_PRINCIPAL_ID/appRoleAssignments"' in code
    assert f"GRAPH_SP_ID=$(az ad sp show --id {GRAPH_APP_ID} --query id -o tsv)" in code
    assert '\\"resourceId\\": \\"$GRAPH_SP_ID\\"' in code
    # and the prose names no other permission than the file's
    named = set(re.findall(r"\b[A-Z][A-Za-z]+(?:\.[A-Z][A-Za-z]+)+\b", GUIDE.read_text())) - {"Microsoft.Insights"}
    roles = {r["value"] for r in _registrations()["bot"]["appRoles"]}
    assert named - roles == set(GRAPH_APP_ROLES), named


def test_guide_assigns_the_bots_app_roles_by_the_files_ids() -> None:
    code = _guide_code()
    (program,) = re.findall(r"role_id\(\) \{ jq -r --arg v \"\$1\" '([^']*)' \"\$REG\"; \}", code)
    for role in _registrations()["bot"]["appRoles"]:
        assert _jq(program, _registrations(), "-r", "--arg", "v", role["value"]).strip() == role["id"]
    assert "role_id Plans.Submit" in code
    assert 'role_id "$(jq -r .actionGroups.appRole "$REG")"' in code
    assert 'ACTION_GROUPS_APP_ID=$(jq -r .actionGroups.appId "$REG")' in code
    assert code.count('--url "$GRAPH/servicePrincipals/$BOT_SP_ID/appRoleAssignedTo"') == 2


def test_guide_creates_the_service_principal_consents_and_deploys_the_bicep() -> None:
    code = _guide_code()
    for command in (
        'az ad app create --display-name "$(jq -r .bot.displayName "$REG")"',
        '--sign-in-audience "$(jq -r .bot.signInAudience "$REG")"',
        'az ad sp create --id "$BOT_APP_ID"',
        'az ad app permission admin-consent --id "$BOT_APP_ID"',
        "az deployment group create",
        "--template-file infra/main.bicep",
        "incidentWebhookSecret=",
        "responsePlansFile=",
        "manifest build",
        '\\"useAadAuth\\": true',  # the action group's secure webhook
        '\\"identifierUri\\": \\"$IDENTIFIER_URI\\"',
        "manifest validate",
    ):
        assert command in code, command
    # every parameter the guide passes is one main.bicep declares
    passed = set(re.findall(r"\b([a-zA-Z]+)=[\"'$\[]", code.split("az deployment group create", 1)[1].split("out()", 1)[0]))
    assert passed <= set(_bicep().params), passed - set(_bicep().params)


# --- Bicep and the manifest ----------------------------------------------------------------------------------------


def test_bicep_application_id_uri_and_oauth_connection_are_the_files() -> None:
    bicep, reg = _bicep(), _registrations()
    assert bicep.var("ssoAppIdUri") == _identifier_uri()
    connection = bicep.one("Microsoft.BotService/botServices/connections")
    name = connection.prop("name")
    assert name is not None and bicep.value(name) == reg["oauthConnection"]["name"]

    def value(*path: str) -> Any:
        node = connection.prop("properties", *path)
        assert node is not None, path
        return bicep.value(node)

    assert value("scopes") == reg["oauthConnection"]["scopes"]
    assert value("serviceProviderDisplayName") == reg["oauthConnection"]["serviceProviderDisplayName"]
    assert {p["key"]: p["value"] for p in value("parameters")}["tokenExchangeUrl"] == reg["oauthConnection"]["tokenExchangeUrl"]
    assert value("clientId") == "{BOT_APP_ID}"


def test_bicep_app_settings_are_settings_the_bot_knows_and_name_the_files_connection() -> None:
    bicep = _bicep()
    settings = bicep.app_settings(bicep.one("Microsoft.Web/sites"))
    known = {s.name for s in SETTINGS} | {"WEBSITES_PORT", "SCM_DO_BUILD_DURING_DEPLOYMENT"}  # App Service's own
    assert set(settings) <= known, set(settings) - known
    connection_name = _registrations()["oauthConnection"]["name"]
    assert bicep.value(settings["OAUTH_CONNECTION_NAME"]) == connection_name  # type: ignore[arg-type]
    assert next(s.default for s in SETTINGS if s.name == "OAUTH_CONNECTION_NAME") == connection_name
    assert bicep.value(settings["SSO_APP_ID_URI"]) == _identifier_uri()  # type: ignore[arg-type]


def test_manifest_sso_resource_follows_the_identifier_uri_and_allows_the_token_service() -> None:
    manifest = _manifest()
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": _filled()["bot"]["identifierUris"][0]}
    assert TOKEN_SERVICE in manifest["validDomains"]
    assert DOMAIN in manifest["validDomains"]
