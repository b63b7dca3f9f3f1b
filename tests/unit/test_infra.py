"""The Bicep templates parse (tree-sitter-bicep: the compiler cannot be installed here) and wire what the bot needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import tree_sitter as ts
import tree_sitter_bicep as tsb

from bot.config import SETTINGS

INFRA = Path(__file__).resolve().parents[2] / "infra"
PARSER = ts.Parser(ts.Language(tsb.language()))
PLATFORM_SETTINGS = {"WEBSITES_PORT", "SCM_DO_BUILD_DURING_DEPLOYMENT"}


def _problems(tree: ts.Tree) -> list[str]:
    found: list[str] = []

    def walk(node: ts.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            found.append(f"line {node.start_point[0] + 1}: {node.type} near {node.text.decode()[:40] if node.text else ''!r}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return found


@dataclass
class Resource:
    symbol: str
    type: str
    body: ts.Node

    def prop(self, *path: str) -> ts.Node | None:
        node: ts.Node | None = self.body
        for key in path:
            node = _property(node, key) if node is not None else None
        return node


def _text(node: ts.Node | None) -> str:
    return node.text.decode() if node is not None and node.text else ""


def _property(obj: ts.Node, key: str) -> ts.Node | None:
    for child in obj.named_children:
        if child.type == "object_property" and _text(child.named_children[0]).strip("'") == key:
            return child.named_children[-1]
    return None


def _resources(path: Path) -> list[Resource]:
    tree = PARSER.parse(path.read_bytes())
    out = []
    for node in tree.root_node.named_children:
        if node.type == "resource_declaration":
            symbol, type_, body = node.named_children[0], node.named_children[1], node.named_children[-1]
            if body.type == "for_statement":  # [for x in y: {...}]
                body = body.named_children[-1]
            out.append(Resource(_text(symbol), _text(type_).strip("'"), body))
    return out


def _by_type(resources: list[Resource], prefix: str) -> list[Resource]:
    return [r for r in resources if r.type.split("@")[0] == prefix]


def _app_settings(site: Resource) -> dict[str, str]:
    array = site.prop("properties", "siteConfig", "appSettings")
    assert array is not None
    return {_text(_property(o, "name")).strip("'"): _text(_property(o, "value")) for o in array.named_children if o.type == "object"}


@pytest.mark.parametrize("path", sorted(INFRA.glob("*.bicep")), ids=lambda p: p.name)
def test_every_bicep_file_parses_without_syntax_errors(path: Path) -> None:
    assert _problems(PARSER.parse(path.read_bytes())) == []


def test_the_gate_catches_a_syntax_error() -> None:
    broken = b"resource bot 'Microsoft.BotService/botServices@2022-09-15' = {\n  name: 'x'\n  properties: {\n}\n"
    assert _problems(PARSER.parse(broken))


MAIN = _resources(INFRA / "main.bicep")


def test_managed_identity_is_the_web_apps_identity_and_the_agents() -> None:
    (identity,) = _by_type(MAIN, "Microsoft.ManagedIdentity/userAssignedIdentities")
    (site,) = _by_type(MAIN, "Microsoft.Web/sites")
    assert f"{identity.symbol}.id" in _text(site.prop("identity", "userAssignedIdentities"))
    assert _text(site.prop("properties", "keyVaultReferenceIdentity")) == f"{identity.symbol}.id"
    assert _app_settings(site)["AZURE_CLIENT_ID"] == f"{identity.symbol}.properties.clientId"


def test_agent_gets_reader_by_default_at_subscription_scope() -> None:
    main = (INFRA / "main.bicep").read_text()
    assert "'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader" in main
    (assignment,) = _by_type(_resources(INFRA / "agent-access.bicep"), "Microsoft.Authorization/roleAssignments")
    assert _text(assignment.prop("properties", "principalId")) == "principalId"
    assert "targetScope = 'subscription'" in (INFRA / "agent-access.bicep").read_text()


def test_azure_bot_has_the_teams_channel_and_the_sso_connection() -> None:
    (bot,) = _by_type(MAIN, "Microsoft.BotService/botServices")
    assert _text(bot.prop("properties", "msaAppId")) == "botAppId"
    assert "/api/messages" in _text(bot.prop("properties", "endpoint"))
    (channel,) = _by_type(MAIN, "Microsoft.BotService/botServices/channels")
    assert _text(channel.prop("name")) == "'MsTeamsChannel'"
    (connection,) = _by_type(MAIN, "Microsoft.BotService/botServices/connections")
    assert _text(connection.prop("properties", "serviceProviderId")) == "'30dd229c-58e3-4a48-bdfd-91ec48eb906c'"
    parameters = _text(connection.prop("properties", "parameters"))
    assert "tokenExchangeUrl" in parameters and "ssoAppIdUri" in parameters
    (site,) = _by_type(MAIN, "Microsoft.Web/sites")
    assert _app_settings(site)["OAUTH_CONNECTION_NAME"] == _text(connection.prop("name"))


def test_app_settings_are_settings_the_bot_reads_and_cover_what_it_needs() -> None:
    (site,) = _by_type(MAIN, "Microsoft.Web/sites")
    settings = _app_settings(site)
    known = {s.name for s in SETTINGS}
    assert set(settings) - known - PLATFORM_SETTINGS == set()
    required = {"MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId", "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID", "SSO_APP_ID_URI", "DEFAULT_SUBSCRIPTION_ID", "STORE_PATH",
                "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    assert required <= set(settings)
    # the secrets are a Key Vault reference, not values
    main = (INFRA / "main.bicep").read_text()
    assert settings["MicrosoftAppPassword"] == settings["SSO_CLIENT_SECRET"] == "secretReference"
    assert "var secretReference = '@Microsoft.KeyVault(SecretUri=" in main
    assert "AZURE_CLIENT_SECRET" not in settings  # the agent is a managed identity: no secret at all


def test_storage_key_vault_and_insights_exist_and_outputs_are_declared() -> None:
    for kind in ("Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.Insights/components"):
        assert _by_type(MAIN, kind), kind
    outputs = {_text(n.named_children[0]) for n in PARSER.parse((INFRA / "main.bicep").read_bytes()).root_node.named_children
               if n.type == "output_declaration"}
    assert {"messagingEndpoint", "botDomain", "ssoAppIdUri", "agentClientId", "webAppName"} <= outputs
