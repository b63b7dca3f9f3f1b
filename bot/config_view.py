"""`check-config`'s view of the settings: each by its documented name, as the bot uses it, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping

from .config import SETTINGS, Settings

SECRETS = frozenset(
    {"MicrosoftAppPassword", "AZURE_CLIENT_SECRET", "SSO_CLIENT_SECRET", "INCIDENT_WEBHOOK_SECRET", "APPLICATIONINSIGHTS_CONNECTION_STRING"}
)


def _effective_values(s: Settings) -> dict[str, object]:
    """The values the bot uses (defaults and derivations applied), by their documented names."""
    p, c = s.policy, s.channel
    return {
        "HOST": s.host,
        "PORT": s.port,
        "MicrosoftAppId": s.app_id,
        "MicrosoftAppType": s.app_type,
        "MicrosoftAppTenantId": s.app_tenant_id,
        "ANONYMOUS_ALLOWED": s.anonymous_allowed,
        "ToBotFromChannelOpenIdMetadataUrl": c.openid_metadata_url,
        "ToBotFromChannelTokenIssuer": c.token_issuer,
        "ToChannelFromBotLoginUrl": c.login_url,
        "ToChannelFromBotOAuthScope": c.oauth_scope,
        "OAuthUrl": c.oauth_url,
        "AZURE_TENANT_ID": s.tenant_id,
        "AZURE_CLIENT_ID": s.agent_client_id,
        "AZURE_AUTHORITY_HOST": s.authority_host,
        "ARM_ENDPOINT": s.arm_endpoint,
        "ARM_POLLING_INTERVAL": s.arm_polling_interval,
        "GRAPH_ENDPOINT": s.graph_endpoint,
        "SSL_CERT_FILE": s.ca_bundle,
        "SSO_CLIENT_ID": s.sso_client_id,
        "SSO_APP_ID_URI": s.sso_app_id_uri,
        "OAUTH_CONNECTION_NAME": s.oauth_connection_name,
        "ALLOWED_TENANTS": sorted(s.allowed_tenants),
        "API_AUDIENCE": s.api_audience,
        "API_ROLE": s.api_role,
        "TEAMS_SERVICE_URL": s.teams_service_url,
        "DEFAULT_SUBSCRIPTION_ID": s.default_subscription_id,
        "ALLOWED_SCOPES": [str(x) for x in s.allowed_scopes],
        "DEFAULT_APPROVERS": sorted(p.approvers),
        "APPROVER_GROUP_ID": p.approver_group,
        "APPROVALS_REQUIRED": p.approvals_required,
        "ALLOW_SELF_APPROVAL": p.allow_self_approval,
        "PLAN_EXPIRY_MINUTES": p.expiry.total_seconds() / 60,
        "CREDENTIALS_EXPIRY_MINUTES": p.credentials_expiry.total_seconds() / 60,
        "CARD_BUTTONS": "everyone" if s.buttons_for_everyone else "approvers",
        "SWEEP_INTERVAL_SECONDS": s.sweep_interval,
        "STORE_PATH": s.store_path,
        "LOG_LEVEL": s.log_level,
        "MicrosoftAppPassword": s.app_password,
        "AZURE_CLIENT_SECRET": s.agent_client_secret,
        "SSO_CLIENT_SECRET": s.sso_client_secret,
        "INCIDENT_WEBHOOK_SECRET": s.incident_webhook_secret,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": s.appinsights_connection_string,
    }


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(value)
    return str(value)


def describe(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """`NAME=value` for every documented setting, as the bot uses it; secrets only say whether they are set."""
    values = _effective_values(settings)
    lines = []
    for s in SETTINGS:
        value = values[s.name] if s.name in values else (env.get(s.name, "").strip() or s.default or "")
        shown = ("(set)" if value else "(not set)") if s.name in SECRETS else _shown(value)
        lines.append(f"{s.name}={shown}")
    return lines
