"""Teams and the Bot Framework channel: where the bot listens, its identity and channel authentication, SSO, and the
Bot Connector hosts its token may go to."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.service_urls import ServiceUrlPolicy
from .reader import Reader, declared

# The five endpoints of botbuilder's parameterized authentication: all set, or none (the public cloud)
CHANNEL_SETTINGS = (
    "ToBotFromChannelOpenIdMetadataUrl",
    "ToBotFromChannelTokenIssuer",
    "ToChannelFromBotLoginUrl",
    "ToChannelFromBotOAuthScope",
    "OAuthUrl",
)
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

SETTINGS = declared("teams")


@dataclass(frozen=True)
class ChannelEndpoints:
    """Bot Framework endpoints (botbuilder's parameterized authentication); all empty = the public cloud."""

    openid_metadata_url: str = ""
    token_issuer: str = ""
    login_url: str = ""
    oauth_scope: str = ""
    oauth_url: str = ""

    @property
    def parameterized(self) -> bool:
        return any(vars(self).values())


@dataclass(frozen=True)
class TeamsSettings:
    host: str
    port: int
    bot_sdk: str
    app_id: str
    app_password: str = field(repr=False)
    app_type: str
    app_tenant_id: str
    anonymous_allowed: bool
    channel: ChannelEndpoints
    sso_client_id: str
    sso_client_secret: str = field(repr=False)
    sso_app_id_uri: str
    oauth_connection_name: str
    allowed_tenants: frozenset[str]
    teams_service_url: str
    service_urls: ServiceUrlPolicy

    @classmethod
    def read(cls, r: Reader, home_tenant: str) -> TeamsSettings:
        app_id = r.guid("MicrosoftAppId")
        app_type = r.choice("MicrosoftAppType", ("MultiTenant", "SingleTenant", "UserAssignedMSI"))
        app_tenant = r.guid("MicrosoftAppTenantId") or home_tenant
        app_password = r.get("MicrosoftAppPassword")
        if app_id and app_type.lower() != "userassignedmsi" and not app_password:
            r.bad("MicrosoftAppPassword is required when MicrosoftAppId is set (or use MicrosoftAppType=UserAssignedMSI)")
        sso_client_id = r.guid("SSO_CLIENT_ID", r.get("SSO_CLIENT_ID") or app_id)
        anonymous = r.boolean("ANONYMOUS_ALLOWED") and not app_id
        host = r.get("HOST")
        if anonymous and host not in LOOPBACK_HOSTS:
            host = "127.0.0.1"  # no channel authentication: never reachable from another machine
        service_url = r.get("TEAMS_SERVICE_URL")
        return cls(
            host=host,
            port=int(r.number("PORT", 0)),
            bot_sdk=r.choice("BOT_SDK", ("botbuilder", "agents")).lower(),
            app_id=app_id,
            app_password=app_password,
            app_type=app_type,
            app_tenant_id=app_tenant,
            anonymous_allowed=anonymous,
            channel=_channel_endpoints(r),
            sso_client_id=sso_client_id,
            sso_client_secret=r.get("SSO_CLIENT_SECRET") or app_password,
            sso_app_id_uri=r.get("SSO_APP_ID_URI") or (f"api://botid-{sso_client_id}" if sso_client_id else ""),
            oauth_connection_name=r.get("OAUTH_CONNECTION_NAME"),
            allowed_tenants=r.guids("ALLOWED_TENANTS", r.get("ALLOWED_TENANTS") or app_tenant),
            teams_service_url=service_url,
            service_urls=_service_urls(r, service_url),
        )


def _channel_endpoints(r: Reader) -> ChannelEndpoints:
    endpoints = ChannelEndpoints(
        openid_metadata_url=r.url("ToBotFromChannelOpenIdMetadataUrl", optional=True),
        token_issuer=r.get("ToBotFromChannelTokenIssuer"),  # compared verbatim with the token's `iss`
        login_url=r.url("ToChannelFromBotLoginUrl", optional=True),
        oauth_scope=r.get("ToChannelFromBotOAuthScope"),
        oauth_url=r.url("OAuthUrl", optional=True),
    )
    missing = [n for n, v in zip(CHANNEL_SETTINGS, vars(endpoints).values(), strict=True) if not v]
    if endpoints.parameterized and missing:
        # botbuilder uses the parameterized values for everything once one is set
        r.bad(f"{missing[0]} is required when any of {', '.join(CHANNEL_SETTINGS)} is set (set all five, or none for the public cloud)")
    return endpoints


def _service_urls(r: Reader, teams_service_url: str) -> ServiceUrlPolicy:
    """The Bot Connector hosts the bot's token may go to."""
    try:
        ServiceUrlPolicy.of([teams_service_url])
    except ValueError as e:
        r.bad(f"TEAMS_SERVICE_URL is invalid: {e}")
        return ServiceUrlPolicy.of(["https://smba.trafficmanager.net/"])
    prefixes = [u.strip() for u in r.get("TEAMS_SERVICE_URLS").split(",") if u.strip()]
    try:
        return ServiceUrlPolicy.of([teams_service_url, *prefixes])
    except ValueError as e:
        r.bad(f"TEAMS_SERVICE_URLS is invalid: {e}")
        return ServiceUrlPolicy.of([teams_service_url])
