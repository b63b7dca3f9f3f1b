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


def test_managed_identity_is_the_web_apps_identity_and_the_agents() -> None:
    identity = MAIN.one("Microsoft.ManagedIdentity/userAssignedIdentities")
    site = MAIN.one("Microsoft.Web/sites")
    assert f"{identity.symbol}.id" in text(site.prop("identity", "userAssignedIdentities"))
    assert text(site.prop("properties", "keyVaultReferenceIdentity")) == f"{identity.symbol}.id"
    assert _settings()["AZURE_CLIENT_ID"] == f"{identity.symbol}.properties.clientId"


def test_agent_gets_reader_by_default_at_subscription_scope() -> None:
    main = (INFRA / "main.bicep").read_text()
    assert "'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader" in main
    access = Template(INFRA / "agent-access.bicep")
    assignment = access.one("Microsoft.Authorization/roleAssignments")
    assert text(assignment.prop("properties", "principalId")) == "principalId"
    assert "targetScope = 'subscription'" in (INFRA / "agent-access.bicep").read_text()


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


def test_allowed_scopes_default_to_the_subscription_and_join_with_commas() -> None:
    main = Template(INFRA / "main.bicep", {"defaultSubscriptionId": "0000"})
    assert main.identifier("allowedScopes") == ["/subscriptions/0000"]
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


def test_production_stores_plans_in_table_storage_with_the_agent_identity() -> None:
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
