"""The Bicep templates parse (tree-sitter-bicep: the compiler cannot be installed here) and wire what the bot needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import SETTINGS, Settings

from .bicep import PARSER, Template, Unevaluable, problems, text

INFRA = Path(__file__).resolve().parents[2] / "infra"
PLATFORM_SETTINGS = {"WEBSITES_PORT", "SCM_DO_BUILD_DURING_DEPLOYMENT"}
# Production talks to the public cloud's Bot Framework: these stay unset (the SDK's defaults), and so does the
# development switch that accepts unauthenticated requests.
UNSET_IN_PRODUCTION = {
    "ToBotFromChannelOpenIdMetadataUrl",
    "ToBotFromChannelTokenIssuer",
    "ToChannelFromBotLoginUrl",
    "ToChannelFromBotOAuthScope",
    "OAuthUrl",
    "ANONYMOUS_ALLOWED",
}


@pytest.mark.parametrize("path", sorted(INFRA.glob("*.bicep")), ids=lambda p: p.name)
def test_every_bicep_file_parses_without_syntax_errors(path: Path) -> None:
    assert problems(PARSER.parse(path.read_bytes())) == []


def test_the_gate_catches_a_syntax_error() -> None:
    broken = b"resource bot 'Microsoft.BotService/botServices@2022-09-15' = {\n  name: 'x'\n  properties: {\n}\n"
    assert problems(PARSER.parse(broken))


MAIN = Template(INFRA / "main.bicep", {"botAppId": "{BOT_APP_ID}", "botDomain": "{BOT_DOMAIN}", "tenantId": "{TENANT_ID}"})


def _settings() -> dict[str, str]:
    return {name: text(node) for name, node in MAIN.app_settings(MAIN.one("Microsoft.Web/sites")).items()}


def _role_holders() -> dict[str, set[str]]:
    """Role assignments of main.bicep: the resource they are scoped to -> the identities holding a role there."""
    held: dict[str, set[str]] = {}
    for r in MAIN.by_type("Microsoft.Authorization/roleAssignments"):
        principal = text(r.prop("properties", "principalId")).split(".")[0]
        held.setdefault(text(r.prop("scope")), set()).add(principal)
    return held


def test_two_identities_one_acts_on_azure_the_other_runs_the_bot() -> None:
    """The agent identity (Azure actions) and the runtime identity (the bot's secrets and store) are separate: a
    token of the one that acts on VMs cannot read the Bot Framework secret or rewrite plans and audit, and the other
    holds no role where the bot acts."""
    identities = {r.symbol for r in MAIN.by_type("Microsoft.ManagedIdentity/userAssignedIdentities")}
    assert identities == {"agentIdentity", "runtimeIdentity"}
    site = MAIN.one("Microsoft.Web/sites")
    attached = text(site.prop("identity", "userAssignedIdentities"))
    assert "agentIdentity.id" in attached and "runtimeIdentity.id" in attached  # both reachable from the app
    assert text(site.prop("properties", "keyVaultReferenceIdentity")) == "runtimeIdentity.id"
    assert _settings()["AZURE_CLIENT_ID"] == "agentIdentity.properties.clientId"
    assert _settings()["AZURE_STORAGE_CLIENT_ID"] == "runtimeIdentity.properties.clientId"
    held = _role_holders()
    assert held["vault"] == {"runtimeIdentity"} and held["storage"] == {"runtimeIdentity"}
    modules = (INFRA / "main.bicep").read_text()
    assert "principalId: runtimeIdentity" not in modules.split("module agentAccess", 1)[1].split("resource logs", 1)[0]


def test_agent_gets_reader_by_default_only_on_the_allowed_scopes() -> None:
    """The agent identity's roles are deployed per ALLOWED_SCOPES entry, at that resource group (or, only where a
    whole subscription is named, that subscription): never the whole subscription whatever ALLOWED_SCOPES says."""
    main = (INFRA / "main.bicep").read_text()
    assert "'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader" in main
    assert "targetScope = 'resourceGroup'" in (INFRA / "agent-access.bicep").read_text()
    assert "name: guid(resourceGroup().id, principalId, roleId)" in (INFRA / "agent-access.bicep").read_text()
    assert "module agentAccess 'agent-access.bicep' = [for (scope, i) in allowedScopes: if (length(split(scope, '/')) >= 5)" in main
    assert "scope: resourceGroup(split(scope, '/')[2], split(scope, '/')[4])" in main
    assert "[for (scope, i) in allowedScopes: if (length(split(scope, '/')) < 5)" in main
    assert "scope: subscription()\n" not in main  # nothing is granted on the deployment's subscription as such
    access = Template(INFRA / "agent-access.bicep")
    assignment = access.one("Microsoft.Authorization/roleAssignments")
    assert text(assignment.prop("properties", "principalId")) == "principalId"
    assert MAIN.params["allowedScopes"] is None  # no default: the deployment names the resource groups


def test_alerts_are_confirmed_with_monitoring_reader_on_the_named_subscriptions() -> None:
    main = (INFRA / "main.bicep").read_text()
    assert "module alertsReader 'agent-subscription-access.bicep' = [for (subscriptionId, i) in alertSubscriptionIds" in main
    assert "['43d0d8ad-25c7-4714-9337-8ba259a9fe05'] // Monitoring Reader" in main


def test_private_endpoints_are_an_option_that_turns_public_access_off() -> None:
    main = (INFRA / "main.bicep").read_text()
    assert "param privateEndpoints bool = false" in main
    storage, vault = MAIN.one("Microsoft.Storage/storageAccounts"), MAIN.one("Microsoft.KeyVault/vaults")
    for resource in (storage, vault):
        assert text(resource.prop("properties", "publicNetworkAccess")) == "privateEndpoints ? 'Disabled' : 'Enabled'"
    assert "module privateNetwork 'private-network.bicep' = if (privateEndpoints)" in main
    site = MAIN.one("Microsoft.Web/sites")
    assert "privateNetwork.outputs.appSubnetId" in text(site.prop("properties", "virtualNetworkSubnetId"))
    network = Template(INFRA / "private-network.bicep", {"environment": None})
    assert len(network.by_type("Microsoft.Network/privateEndpoints")) == 1  # a loop: one per zone
    zones = network.vars["zones"]
    assert {text(p.named_children[0]) for p in zones.named_children if p.type == "object_property"} == {"table", "queue", "vault"}
    assert "'privatelink.vaultcore.azure.net'" in text(zones) and "privatelink.table.${environment().suffixes.storage}" in text(zones)


def test_table_entity_writes_and_deletes_are_logged_to_detect_a_rewritten_audit() -> None:
    logs = MAIN.one("Microsoft.Insights/diagnosticSettings")
    assert text(logs.prop("scope")) == "tableService" and text(logs.prop("properties", "workspaceId")) == "logs.id"
    categories = {c["category"] for c in MAIN.value(logs.prop("properties", "logs"))}  # type: ignore[arg-type]
    assert categories == {"StorageWrite", "StorageDelete"}


def test_the_url_secret_alone_is_off_unless_the_deployment_turns_it_on() -> None:
    assert _settings()["INCIDENT_ACCEPT_SECRET_ONLY"] == "incidentAcceptSecretOnly ? 'true' : 'false'"
    assert MAIN.identifier("incidentAcceptSecretOnly") is False


def test_azure_bot_has_the_teams_channel_and_the_sso_connection() -> None:
    bot = MAIN.one("Microsoft.BotService/botServices")
    assert text(bot.prop("properties", "msaAppId")) == "botAppId"
    assert "/api/messages" in text(bot.prop("properties", "endpoint"))
    channel = MAIN.one("Microsoft.BotService/botServices/channels")
    assert text(channel.prop("name")) == "'MsTeamsChannel'"
    connection = MAIN.one("Microsoft.BotService/botServices/connections")
    assert text(connection.prop("properties", "serviceProviderId")) == "'30dd229c-58e3-4a48-bdfd-91ec48eb906c'"
    parameters = {p["key"]: p["value"] for p in MAIN.value(connection.prop("properties", "parameters"))}  # type: ignore[arg-type]
    # the token exchange URL is the Application ID URI (the manifest's webApplicationInfo.resource)
    assert parameters == {"tenantID": "{TENANT_ID}", "tokenExchangeUrl": MAIN.var("ssoAppIdUri")}
    assert _settings()["OAUTH_CONNECTION_NAME"] == text(connection.prop("name"))


def test_app_settings_are_settings_the_bot_reads_and_cover_what_it_needs() -> None:
    settings = _settings()
    known = {s.name for s in SETTINGS}
    assert set(settings) - known - PLATFORM_SETTINGS == set()
    required = {
        "MicrosoftAppId",
        "MicrosoftAppPassword",
        "MicrosoftAppType",
        "MicrosoftAppTenantId",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "SSO_APP_ID_URI",
        "DEFAULT_SUBSCRIPTION_ID",
        "STORE_PATH",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "ALLOWED_SCOPES",
        "INCIDENT_WEBHOOK_SECRET",
        "RESPONSE_PLANS_FILE",
        "API_CALLERS_FILE",
        "APPROVER_GROUP_ID",
    }
    assert required <= set(settings)
    assert set(settings) & UNSET_IN_PRODUCTION == set()
    # the secrets are a Key Vault reference, not values
    main = (INFRA / "main.bicep").read_text()
    assert settings["MicrosoftAppPassword"] == settings["SSO_CLIENT_SECRET"] == "secretReference"
    assert "var secretReference = '@Microsoft.KeyVault(SecretUri=" in main
    assert "AZURE_CLIENT_SECRET" not in settings  # the agent is a managed identity: no secret at all


def test_incident_settings_are_parameters_and_the_webhook_secret_lives_in_key_vault() -> None:
    settings = _settings()
    assert settings["RESPONSE_PLANS_FILE"] == "responsePlansFile"
    assert settings["API_CALLERS_FILE"] == "apiCallersFile"
    assert settings["INCIDENT_WEBHOOK_SECRET"] == "incidentSecretReference"
    secret = next(r for r in MAIN.by_type("Microsoft.KeyVault/vaults/secrets") if r.symbol == "incidentSecret")
    assert text(secret.prop("properties", "value")) == "incidentWebhookSecret"
    assert "@secure()\nparam incidentWebhookSecret string = ''" in (INFRA / "main.bicep").read_text()
    # empty turns /api/incidents off (no secret is created); otherwise the setting is a Key Vault reference
    off = Template(INFRA / "main.bicep", {**MAIN.bindings, "incidentWebhookSecret": ""})
    assert off.var("incidentSecretReference") == ""
    on = Template(INFRA / "main.bicep", {**MAIN.bindings, "incidentWebhookSecret": "x" * 32})
    with pytest.raises(Unevaluable, match="incidentSecret"):  # refers to the secret's URI, known once deployed
        on.var("incidentSecretReference")
    assert text(on.vars["incidentSecretReference"]).endswith("'@Microsoft.KeyVault(SecretUri=${incidentSecret.properties.secretUri})'")


def test_allowed_scopes_join_with_commas() -> None:
    assert _settings()["ALLOWED_SCOPES"] == "join(allowedScopes, ',')"


def test_parameters_file_names_only_declared_parameters() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(parameters) <= set(MAIN.params)
    assert "incidentWebhookSecret" not in parameters and "botAppPassword" in parameters  # a placeholder, never a value


def test_storage_key_vault_and_insights_exist_and_outputs_are_declared() -> None:
    for kind in ("Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.Insights/components"):
        assert MAIN.by_type(kind), kind
    assert {
        "messagingEndpoint",
        "botDomain",
        "ssoAppIdUri",
        "agentClientId",
        "agentPrincipalId",
        "webAppName",
        "oauthConnectionName",
        "botResourceName",
    } <= set(MAIN.outputs)


def test_production_stores_plans_in_table_storage_with_the_runtime_identity() -> None:
    settings = _settings()
    assert settings["STORE"] == "store" and MAIN.identifier("store") == "azure-tables"  # the default, a parameter
    assert settings["AZURE_STORAGE_ACCOUNT_URL"] == "storage.properties.primaryEndpoints.table"
    assert "AZURE_STORAGE_CONNECTION_STRING" not in settings  # no account key: the managed identity only
    storage = MAIN.one("Microsoft.Storage/storageAccounts")
    assert text(storage.prop("properties", "allowSharedKeyAccess")) == "false"
    roles = {
        text(r.prop("properties", "roleDefinitionId"))
        for r in MAIN.by_type("Microsoft.Authorization/roleAssignments")
        if text(r.prop("scope")) == storage.symbol
    }
    for role in (
        "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",  # Storage Table Data Contributor
        "974c5e8b-45b9-4653-ba55-5f855dd0fb88",  # Storage Queue Data Contributor (the alert inbox queue)
    ):
        assert any(role in r for r in roles), role
    tables = {text(t.prop("name")) for t in MAIN.by_type("Microsoft.Storage/storageAccounts/tableServices/tables")}
    assert tables == {"'${storeTablePrefix}plans'", "'${storeTablePrefix}deliveries'", "'${storeTablePrefix}conversations'"}
    assert settings["STORE_TABLE_PREFIX"] == "storeTablePrefix"


def test_production_receives_alerts_through_a_queue_and_its_poison_queue() -> None:
    settings = _settings()
    assert settings["AZURE_STORAGE_QUEUE_URL"] == "storage.properties.primaryEndpoints.queue"
    assert settings["INBOX_QUEUE_NAME"] == "inboxQueueName"
    name = MAIN.var("inboxQueueName")
    queues = {text(q.prop("name")) for q in MAIN.by_type("Microsoft.Storage/storageAccounts/queueServices/queues")}
    assert queues == {"inboxQueueName", "'${inboxQueueName}-poison'"}  # Azure Functions' poison queue convention
    guid = "00000000-0000-0000-0000-000000000001"
    env = {"AZURE_TENANT_ID": guid, "DEFAULT_SUBSCRIPTION_ID": guid, "INBOX_QUEUE_NAME": name}
    assert Settings.from_env(env).store.inbox_queue_name == name  # a name the bot accepts
    site = MAIN.one("Microsoft.Web/sites")
    assert "queueDataContributor" in text(site.prop("dependsOn"))  # the role exists before the bot starts


def test_bot_sdk_is_a_parameter_defaulting_to_botbuilder() -> None:
    assert _settings()["BOT_SDK"] == "botSdk"
    assert MAIN.identifier("botSdk") == "botbuilder"
    main = (INFRA / "main.bicep").read_text()
    assert "@allowed(['botbuilder', 'agents'])\nparam botSdk string = 'botbuilder'" in main
