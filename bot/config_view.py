"""`check-config`'s view of the settings: each by its documented name, as the bot uses it, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping

from .config import SETTINGS, Settings

SECRETS = frozenset(
    {"MicrosoftAppPassword", "AZURE_CLIENT_SECRET", "SSO_CLIENT_SECRET", "INCIDENT_WEBHOOK_SECRET", "APPLICATIONINSIGHTS_CONNECTION_STRING"}
)


def _effective_values(s: Settings) -> dict[str, object]:
    """The values the bot uses (defaults and derivations applied), by their documented names."""
    t, az, p, c = s.teams, s.azure, s.policy.consent, s.teams.channel
    return {
        "HOST": t.host,
        "PORT": t.port,
        "MicrosoftAppId": t.app_id,
        "MicrosoftAppType": t.app_type,
        "MicrosoftAppTenantId": t.app_tenant_id,
        "ANONYMOUS_ALLOWED": t.anonymous_allowed,
        "ToBotFromChannelOpenIdMetadataUrl": c.openid_metadata_url,
        "ToBotFromChannelTokenIssuer": c.token_issuer,
        "ToChannelFromBotLoginUrl": c.login_url,
        "ToChannelFromBotOAuthScope": c.oauth_scope,
        "OAuthUrl": c.oauth_url,
        "AZURE_TENANT_ID": az.tenant_id,
        "AZURE_CLIENT_ID": az.agent_client_id,
        "AZURE_AUTHORITY_HOST": az.authority_host,
        "ARM_ENDPOINT": az.arm_endpoint,
        "ARM_POLLING_INTERVAL": az.arm_polling_interval,
        "GRAPH_ENDPOINT": az.graph_endpoint,
        "SSL_CERT_FILE": az.ca_bundle,
        "SSO_CLIENT_ID": t.sso_client_id,
        "SSO_APP_ID_URI": t.sso_app_id_uri,
        "OAUTH_CONNECTION_NAME": t.oauth_connection_name,
        "ALLOWED_TENANTS": sorted(t.allowed_tenants),
        "API_AUDIENCE": s.api.api_audience,
        "API_ROLE": s.api.api_role,
        "TEAMS_SERVICE_URL": t.teams_service_url,
        "DEFAULT_SUBSCRIPTION_ID": az.default_subscription_id,
        "ALLOWED_SCOPES": [str(x) for x in az.allowed_scopes],
        "DEFAULT_APPROVERS": sorted(p.approvers),
        "APPROVER_GROUP_ID": p.approver_group,
        "APPROVALS_REQUIRED": p.approvals_required,
        "ALLOW_SELF_APPROVAL": p.allow_self_approval,
        "PLAN_EXPIRY_MINUTES": p.expiry.total_seconds() / 60,
        "CREDENTIALS_EXPIRY_MINUTES": p.credentials_expiry.total_seconds() / 60,
        "CARD_BUTTONS": "everyone" if s.policy.buttons_for_everyone else "approvers",
        "SWEEP_INTERVAL_SECONDS": s.limits.sweep_interval,
        "STORE_PATH": s.store.path,
        "LOG_LEVEL": s.observability.log_level,
        "MicrosoftAppPassword": t.app_password,
        "AZURE_CLIENT_SECRET": az.agent_client_secret,
        "SSO_CLIENT_SECRET": t.sso_client_secret,
        "INCIDENT_WEBHOOK_SECRET": s.api.incident_webhook_secret,
        "APPLICATIONINSIGHTS_CONNECTION_STRING": s.observability.appinsights_connection_string,
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
