"""The bot's Entra app registrations, read from infra/app-registrations.json (the file infra applies to a tenant).

The sandbox Entra configures its simulated bot registration from this file, so `make run` and the tests
run with exactly what a deployment creates: identifier URI, access token version, the `access_as_user`
scope, the pre-authorized Teams clients, the app roles, and the agent identity's Microsoft Graph app roles.
Tests load variants (for example the token version switched to 2) with `load(path)` or `from_dict(data)`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "infra" / "app-registrations.json"

# Microsoft Graph's application permissions (app roles) that matter here, by value and id, as Graph
# publishes them: https://learn.microsoft.com/graph/permissions-reference
GRAPH_APP_ROLES: dict[str, str] = {
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    "GroupMember.Read.All": "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    "Group.Read.All": "5b567255-7703-4780-807c-7be8301ae99b",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
}


class RegistrationError(ValueError):
    """The registrations file does not have the shape the sandbox (and Microsoft Graph) expects."""


@dataclass(frozen=True)
class BotRegistration:
    """The parts of the bot's application object that Entra's token issuance depends on."""

    identifier_uri_template: str  # with {BOT_DOMAIN} and {BOT_APP_ID} placeholders
    # null or 1: Entra issues v1 access tokens for this API; 2: v2
    # (https://learn.microsoft.com/entra/identity-platform/reference-app-manifest#accesstokenacceptedversion-attribute)
    requested_access_token_version: int | None
    scopes: dict[str, str]  # enabled delegated permission value -> id
    pre_authorized: dict[str, frozenset[str]]  # client app id -> delegated permission ids it may get without consent
    app_roles: dict[str, frozenset[str]]  # enabled app role value -> allowedMemberTypes

    def identifier_uri(self, bot_domain: str, bot_app_id: str) -> str:
        return self.identifier_uri_template.replace("{BOT_DOMAIN}", bot_domain).replace("{BOT_APP_ID}", bot_app_id)

    @property
    def token_version(self) -> int:
        """1 or 2: the version of the access tokens Entra issues for this API."""
        return 2 if self.requested_access_token_version == 2 else 1

    def is_pre_authorized(self, client_id: str, scope: str) -> bool:
        """May `client_id` get a token for `scope` without a consent prompt (preAuthorizedApplications)?"""
        scope_id = self.scopes.get(scope)
        return scope_id is not None and scope_id in self.pre_authorized.get(client_id, frozenset())


@dataclass(frozen=True)
class Registrations:
    bot: BotRegistration
    agent_graph_roles: frozenset[str] = field(default_factory=frozenset)  # Graph app role values granted to the agent
    action_groups_app_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def load(path: Path | None = None) -> Registrations:
    """Read and check the registrations file (default: infra/app-registrations.json)."""
    path = path or DEFAULT_PATH
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RegistrationError(f"{path}: cannot be read as JSON ({e})") from None
    return from_dict(data)


def from_dict(data: dict[str, Any]) -> Registrations:
    try:
        bot = data["bot"]
        api = bot["api"]
        uris = bot["identifierUris"]
        if not uris:
            raise RegistrationError("bot.identifierUris is empty")
        version = api.get("requestedAccessTokenVersion")
        if version not in (None, 1, 2):
            raise RegistrationError(f"bot.api.requestedAccessTokenVersion must be null, 1 or 2, not {version!r}")
        scopes = {s["value"]: s["id"] for s in api.get("oauth2PermissionScopes", []) if s.get("isEnabled", True)}
        pre = {p["appId"]: frozenset(p.get("delegatedPermissionIds", [])) for p in api.get("preAuthorizedApplications", [])}
        roles = {r["value"]: frozenset(r.get("allowedMemberTypes", [])) for r in bot.get("appRoles", []) if r.get("isEnabled", True)}
        graph_roles = set()
        for role in data.get("agentIdentity", {}).get("graphAppRoles", []):
            if GRAPH_APP_ROLES.get(role["value"]) != role["id"]:
                raise RegistrationError(f"agentIdentity.graphAppRoles: {role['value']} is not Microsoft Graph's app role {role['id']}")
            graph_roles.add(role["value"])
    except (KeyError, TypeError, AttributeError) as e:
        raise RegistrationError(f"the registrations file lacks or misshapes {e}") from None
    return Registrations(
        bot=BotRegistration(uris[0], version, scopes, pre, roles),
        agent_graph_roles=frozenset(graph_roles),
        action_groups_app_id=(data.get("actionGroups") or {}).get("appId"),
        raw=data,
    )


def variant(
    base: Registrations | None = None, *, token_version: int | str | None = "keep", graph_roles: list[str] | None = None
) -> Registrations:
    """A copy of the file's registrations with the token version and/or the agent's Graph roles changed (tests)."""
    data = json.loads(json.dumps((base or load()).raw))
    if token_version != "keep":
        data["bot"]["api"]["requestedAccessTokenVersion"] = token_version
    if graph_roles is not None:
        data["agentIdentity"]["graphAppRoles"] = [{"id": GRAPH_APP_ROLES[r], "value": r} for r in graph_roles]
    return from_dict(data)
