"""Typed settings from the environment (and `.env`), validated at start-up with one clear line per problem."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from .domain.callers import ApiCaller, parse_api_callers
from .domain.consent import ConsentPolicy
from .domain.incident import ResponsePlan, parse_response_plans
from .domain.scope import Scope, parse_scopes
from .domain.service_urls import UNTRUSTED_MESSAGE, ServiceUrlPolicy

CHANNEL_SETTINGS = ("ToBotFromChannelOpenIdMetadataUrl", "ToBotFromChannelTokenIssuer", "ToChannelFromBotLoginUrl",
                    "ToChannelFromBotOAuthScope", "OAuthUrl")
T = TypeVar("T")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ConfigError(Exception):
    """Settings are missing or invalid: `problems` has one line per problem, each naming the setting and what is
    expected; the message is the problems joined with "; " (the first one first)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: str | None = None


# Every setting the bot reads; README and .env.example document the same list.
SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", "interface to listen on", "0.0.0.0"),
    Setting("PORT", "port of /api/messages and the HTTP API", "3978"),
    Setting("BOT_SDK", "the SDK that speaks to Teams: botbuilder (Bot Framework SDK 4.17) or agents (Microsoft 365 Agents SDK); "
            "services, cards and store are the same with either", "botbuilder"),
    Setting("MicrosoftAppId", "the bot's Entra app id; `serve` refuses to start without it unless ANONYMOUS_ALLOWED=true", ""),
    Setting("MicrosoftAppPassword", "the bot's client secret (Bot Framework channel auth)", ""),
    Setting("MicrosoftAppType", "MultiTenant, SingleTenant or UserAssignedMSI", "SingleTenant"),
    Setting("MicrosoftAppTenantId", "the bot's home tenant id", ""),
    Setting("ANONYMOUS_ALLOWED", "true lets `serve` run with an empty MicrosoftAppId (no Bot Framework authentication) for "
            "local clients such as the Agents Playground; it then listens on loopback only", "false"),
    Setting("ToBotFromChannelOpenIdMetadataUrl", "OpenID metadata of the Bot Framework channel token issuer "
            "(empty: the public cloud's https://login.botframework.com/v1/.well-known/openidconfiguration)", ""),
    Setting("ToBotFromChannelTokenIssuer", "issuer of channel tokens (empty: the public cloud's https://api.botframework.com)", ""),
    Setting("ToChannelFromBotLoginUrl", "authority the bot gets its Bot Connector token from (empty: the public cloud's, "
            "https://login.microsoftonline.com/<MicrosoftAppTenantId> for a single-tenant bot)", ""),
    Setting("ToChannelFromBotOAuthScope", "resource of the bot's Bot Connector token (empty: the public cloud's "
            "https://api.botframework.com)", ""),
    Setting("OAuthUrl", "Bot Framework token service, for the sign-in fallback (empty: the public cloud's "
            "https://api.botframework.com)", ""),
    Setting("AZURE_TENANT_ID", "tenant of the agent identity and of the Azure subscription"),
    Setting("AZURE_CLIENT_ID", "client id of the agent identity (app registration or user-assigned managed identity)", ""),
    Setting("AZURE_CLIENT_SECRET", "secret of the agent identity; empty uses the managed identity", ""),
    Setting("AZURE_AUTHORITY_HOST", "Entra authority host", "https://login.microsoftonline.com"),
    Setting("ARM_ENDPOINT", "Azure Resource Manager endpoint; the token scope follows it", "https://management.azure.com"),
    Setting("ARM_POLLING_INTERVAL", "seconds between polls of a long-running operation when Azure sends no Retry-After", ""),
    Setting("SSL_CERT_FILE", "CA bundle to trust (PEM) for aiohttp/azure-core; empty uses the system store", ""),
    Setting("REQUESTS_CA_BUNDLE", "CA bundle to trust (PEM) for requests/msal; empty uses the system store", ""),
    Setting("SSO_CLIENT_ID", "Entra app whose access_as_user scope Teams SSO tokens carry (defaults to MicrosoftAppId)", ""),
    Setting("SSO_CLIENT_SECRET", "secret of that app, for On-Behalf-Of (defaults to MicrosoftAppPassword)", ""),
    Setting("SSO_APP_ID_URI", "Application ID URI of that app (defaults to api://botid-<SSO_CLIENT_ID>)", ""),
    Setting("OAUTH_CONNECTION_NAME", "OAuth connection name on the Azure Bot resource used for SSO", "sso"),
    Setting("ALLOWED_TENANTS", "comma-separated tenant ids whose people may use the bot (default: the home tenant)", ""),
    Setting("API_AUDIENCE", "audience of tokens for POST /api/plans (default: SSO_APP_ID_URI)", ""),
    Setting("API_ROLE", "app role a caller of POST /api/plans must hold", "Plans.Submit"),
    Setting("TEAMS_SERVICE_URL", "Bot Connector service URL for plans posted by the API", "https://smba.trafficmanager.net/teams/"),
    Setting("TEAMS_SERVICE_URLS", "comma-separated https prefixes of the Bot Connector service URLs the bot may send to "
            "(its token goes with every call), besides TEAMS_SERVICE_URL; default: the public cloud's Teams service "
            "URLs", "https://smba.trafficmanager.net/"),
    Setting("ALLOW_GUESTS", "true lets guests of the tenant (Teams userRole guest) propose and approve plans", "false"),
    Setting("RATE_LIMIT_PERSON_PER_MINUTE", "commands and card actions one person may send per minute", "60"),
    Setting("RATE_LIMIT_CONVERSATION_PER_MINUTE", "commands and card actions one conversation may send per minute", "120"),
    Setting("RATE_LIMIT_API_PER_MINUTE", "plans one caller app may submit to POST /api/plans per minute", "30"),
    Setting("OUTBOUND_TIMEOUT_SECONDS", "timeout of each call the bot makes to the Bot Connector, the token service, "
            "Entra, Graph and ARM", "30"),
    Setting("METRICS_PORT", "port of /metrics (Prometheus), served apart from the public endpoints; empty: no metrics "
            "endpoint", ""),
    Setting("METRICS_HOST", "interface /metrics listens on", "127.0.0.1"),
    Setting("DEFAULT_SUBSCRIPTION_ID", "subscription searched by chat commands that name a VM"),
    Setting("ALLOWED_SCOPES", "comma-separated scopes the bot may act on, /subscriptions/<id> or "
            "/subscriptions/<id>/resourceGroups/<group>; anything outside is refused before any Azure call "
            "(default: /subscriptions/<DEFAULT_SUBSCRIPTION_ID>)", ""),
    Setting("API_CALLERS_FILE", 'JSON file of the agent apps that may call POST /api/plans: {"callers": [{"appId", '
            '"name", "scopes", "operations"}]}; empty: no app may submit plans', ""),
    Setting("DEFAULT_APPROVERS", "comma-separated Entra object ids of people who may approve", ""),
    Setting("APPROVER_GROUP_ID", "Entra group whose members may approve (checked through Microsoft Graph for every "
            "decision; the agent identity needs the application permissions User.Read.All and GroupMember.Read.All)", ""),
    Setting("GRAPH_ENDPOINT", "Microsoft Graph endpoint, for approver groups", "https://graph.microsoft.com"),
    Setting("APPROVALS_REQUIRED", "approvals needed before a plan runs", "1"),
    Setting("ALLOW_SELF_APPROVAL", "true lets the requester approve their own plan", "false"),
    Setting("PLAN_EXPIRY_MINUTES", "minutes a plan waits for consent", "30"),
    Setting("CREDENTIALS_EXPIRY_MINUTES", "minutes a credentials request waits", "15"),
    Setting("CREDENTIALS_ATTEMPTS", "approvers who may lend their rights to one refused plan: 1 ends the plan at the "
            "first approver who lacks the rights too; more keeps the request open for others until it expires", "1"),
    Setting("CARD_BUTTONS", "approvers: buttons only in approvers' own card view (Teams user-specific views); everyone: "
            "buttons on the shared card too, for clients without user-specific views such as the Agents Playground "
            "(every click is still checked against the policy)", "approvers"),
    Setting("RESPONSE_PLANS_FILE", "JSON file of incident response plans (alert rules -> operation, mode, channel, responders)", ""),
    Setting("INCIDENT_WEBHOOK_SECRET", "secret the Azure Monitor action group puts in the webhook URL (?code=...); "
            "empty: only the secure webhook (an Entra token) is accepted", ""),
    Setting("ACTION_GROUPS_APP_ID", "app id of Azure Monitor's Action Groups service principal: secure webhook tokens "
            "must name it (appid in v1 tokens, azp in v2)", "461e8683-5575-4561-ac7f-899cc907d62a"),
    Setting("INCIDENT_WEBHOOK_ROLE", "app role the Action Groups service principal holds on the bot's API for the "
            "secure webhook", "ActionGroupsSecureWebhook"),
    Setting("INCIDENT_ACCEPT_SECRET_ONLY", "true: an alert that carries only the ?code= secret (no secure webhook "
            "token) is accepted; false: POST /api/incidents requires the secure webhook", "true"),
    Setting("INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK", "true: an alert authenticated only by the ?code= secret "
            "never runs an autonomous response plan at once; the plan waits for a responder's approval instead",
            "true"),
    Setting("SWEEP_INTERVAL_SECONDS", "how often expired plans are swept", "30"),
    Setting("OUTBOX_MAX_ATTEMPTS", "sends of one message to Teams (and tries of one alert) before it is given up as a "
            "dead letter, shown by /readyz and /metrics", "20"),
    Setting("OUTBOX_MAX_BACKOFF_SECONDS", "longest wait between two tries of a message to Teams or of an alert "
            "(exponential back-off with jitter, never shorter than Teams' Retry-After)", "300"),
    Setting("INSTANCE_ID", "name of this instance in execution leases and outbox claims (a random suffix is added); "
            "default: App Service's WEBSITE_INSTANCE_ID, else the host name", ""),
    Setting("EXECUTION_LEASE_SECONDS", "how long an instance's claim on a plan it is running (or a message to Teams it "
            "is sending) lasts without a heartbeat (renewed every third of it); after that another instance marks the "
            "plan interrupted (or sends the message)", "30"),
    Setting("STORE", "where plans, audit and delivery keys live: sqlite (one instance, a local file: STORE_PATH) or "
            "azure-tables (Azure Table Storage: several instances, slot swaps, App Service)", "sqlite"),
    Setting("STORE_PATH", "SQLite file of plans and audit", "data/sre-consent-bot.sqlite3"),
    Setting("STORE_SQLITE_WAL", "SQLite write-ahead log: auto (on, unless STORE_PATH is on a network file system such "
            "as SMB/CIFS or NFS, where WAL is unsafe), on or off", "auto"),
    Setting("AZURE_STORAGE_ACCOUNT_URL", "Table endpoint of the storage account for STORE=azure-tables "
            "(https://<account>.table.core.windows.net), reached with the agent identity (AZURE_CLIENT_ID)", ""),
    Setting("AZURE_STORAGE_CONNECTION_STRING", "connection string for STORE=azure-tables instead of "
            "AZURE_STORAGE_ACCOUNT_URL (an account key: prefer the managed identity in Azure)", ""),
    Setting("STORE_TABLE_PREFIX", "prefix of the store's table names (<prefix>plans, <prefix>deliveries); letters "
            "and digits, starting with a letter", "sreconsent"),
    Setting("LOG_LEVEL", "DEBUG, INFO, WARNING or ERROR", "INFO"),
    Setting("APPLICATIONINSIGHTS_CONNECTION_STRING", "when set, traces are exported to Application Insights", ""),
    Setting("BOT_DOMAIN", "public host name of the bot, for the Teams manifest (default: taken from SSO_APP_ID_URI)", ""),
    Setting("TEAMS_APP_ID", "id of the Teams app in the manifest (default: MicrosoftAppId)", ""),
    Setting("TEAMS_APP_VERSION", "version written into the Teams manifest", "1.0.0"),
    Setting("TEAMS_APP_DEVELOPER", "developer name shown in Teams", "SRE team"),
)


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


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    app_id: str
    app_password: str = field(repr=False)
    app_type: str
    app_tenant_id: str
    anonymous_allowed: bool
    channel: ChannelEndpoints
    bot_sdk: str
    tenant_id: str
    agent_client_id: str
    agent_client_secret: str = field(repr=False)
    authority_host: str
    arm_endpoint: str
    graph_endpoint: str
    arm_polling_interval: float | None
    ca_bundle: str | None
    sso_client_id: str
    sso_client_secret: str = field(repr=False)
    sso_app_id_uri: str
    oauth_connection_name: str
    allowed_tenants: frozenset[str]
    api_audience: str
    api_role: str
    teams_service_url: str
    service_urls: ServiceUrlPolicy
    allow_guests: bool
    rate_person_per_minute: int
    rate_conversation_per_minute: int
    rate_api_per_minute: int
    outbound_timeout: float
    metrics_port: int | None
    metrics_host: str
    default_subscription_id: str
    allowed_scopes: tuple[Scope, ...]
    api_callers: tuple[ApiCaller, ...] | None  # None: API_CALLERS_FILE not set, no app may submit
    policy: ConsentPolicy
    sweep_interval: float
    instance_id: str
    execution_lease_seconds: float
    outbox_max_attempts: int
    outbox_max_backoff: float
    buttons_for_everyone: bool
    response_plans: tuple[ResponsePlan, ...]
    incident_webhook_secret: str = field(repr=False)
    action_groups_app_id: str
    incident_webhook_role: str
    incident_accept_secret_only: bool
    autonomous_requires_secure_webhook: bool
    store_path: Path
    log_level: str
    appinsights_connection_string: str = field(repr=False, default="")
    store: str = "sqlite"
    store_sqlite_wal: str = "auto"
    storage_account_url: str = ""
    storage_connection_string: str = field(repr=False, default="")
    store_table_prefix: str = "sreconsent"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Pretty printers (IPython's; Hypothesis' in a failing test's report) show every field of a dataclass,
        secrets included, unless the class prints itself: as its repr, which leaves out the repr=False secrets."""
        p.text(repr(self))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, serving: bool = False) -> Settings:
        """Read and validate; raises ConfigError listing every problem (`problems`), each naming its setting.

        `serving` adds what only a running bot needs: Bot Framework authentication (see `check_serving`) and a
        consent policy that some set of approvers can satisfy."""
        r = _Reader(env)
        settings = _read(cls, r)
        if serving and not r.problems:
            r.problems.extend(serving_problems(settings))
        if r.problems:
            raise ConfigError(r.problems)
        return settings


class _Reader:
    """Reads settings, noting each problem (one line: the setting and what is expected) and going on with a
    harmless value, so that every problem is found in one pass."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env, self.problems = env, []  # type: list[str]

    def bad(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def get(self, name: str) -> str:
        s = next(s for s in SETTINGS if s.name == name)
        value = self.env.get(name, "").strip()
        if value:
            return value
        if s.default is None:
            self.bad(f"{name} is required: {s.help}")
            return ""
        return s.default

    def number(self, name: str, minimum: float, integer: bool = True) -> float:
        raw = self.get(name)
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            self.bad(f"{name}={raw!r} is invalid: expected a {'whole ' if integer else ''}number")
            return minimum
        if value < minimum:
            self.bad(f"{name}={raw!r} is invalid: expected at least {minimum:g}")
            return minimum
        return value

    def guid(self, name: str, value: str) -> str:
        if value and not GUID.match(value):
            self.bad(f"{name}={value!r} is invalid: expected a GUID like 00000000-0000-0000-0000-000000000000")
            return ""
        return value

    def guids(self, name: str, raw: str) -> frozenset[str]:
        return frozenset(self.guid(name, v.strip()) for v in raw.split(",") if v.strip()) - {""}

    def url(self, name: str, *, optional: bool = False) -> str:
        value = self.get(name)
        parsed = urlparse(value)
        if (value or not optional) and (parsed.scheme != "https" or not parsed.netloc):
            self.bad(f"{name}={value!r} is invalid: expected an https:// URL")
        return value.rstrip("/")

    def boolean(self, name: str) -> bool:
        raw = self.get(name).lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            self.bad(f"{name}={raw!r} is invalid: expected true or false")
        return raw in ("true", "1", "yes")

    def choice(self, name: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.get(name)
        value = value.upper() if upper else value
        if value.lower() not in (c.lower() for c in choices):
            self.bad(f"{name}={value!r} is invalid: expected {', '.join(choices[:-1])} or {choices[-1]}")
        return value

    def json_file(self, name: str, parse: Callable[[Any], T]) -> T | None:
        path = self.get(name)
        if not path:
            return None
        try:
            return parse(json.loads(Path(path).read_text()))
        except OSError as e:
            self.bad(f"{name}={path!r} is invalid: cannot read it ({e.strerror})")
        except ValueError as e:
            self.bad(f"{name}={path!r} is invalid: {e}")
        return None


def _channel_endpoints(r: _Reader) -> ChannelEndpoints:
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
        r.bad(f"{missing[0]} is required when any of {', '.join(CHANNEL_SETTINGS)} is set "
              "(set all five, or none for the public cloud)")
    return endpoints


def _allowed_scopes(r: _Reader, default_subscription: str) -> tuple[Scope, ...]:
    raw = r.get("ALLOWED_SCOPES") or (f"/subscriptions/{default_subscription}" if default_subscription else "")
    if not raw:
        return ()  # DEFAULT_SUBSCRIPTION_ID is missing or invalid: already said
    try:
        return parse_scopes(raw.split(","))
    except ValueError as e:
        r.bad(f"ALLOWED_SCOPES is invalid: {e}")
        return ()


def _identity(r: _Reader) -> dict[str, Any]:
    """The bot's and the agent's identities."""
    tenant_id = r.guid("AZURE_TENANT_ID", r.get("AZURE_TENANT_ID"))
    app_id = r.guid("MicrosoftAppId", r.get("MicrosoftAppId"))
    app_type = r.choice("MicrosoftAppType", ("MultiTenant", "SingleTenant", "UserAssignedMSI"))
    app_tenant = r.guid("MicrosoftAppTenantId", r.get("MicrosoftAppTenantId")) or tenant_id
    app_password = r.get("MicrosoftAppPassword")
    if app_id and app_type.lower() != "userassignedmsi" and not app_password:
        r.bad("MicrosoftAppPassword is required when MicrosoftAppId is set (or use MicrosoftAppType=UserAssignedMSI)")
    sso_client_id = r.guid("SSO_CLIENT_ID", r.get("SSO_CLIENT_ID") or app_id)
    anonymous = r.boolean("ANONYMOUS_ALLOWED") and not app_id
    host = r.get("HOST")
    if anonymous and host not in LOOPBACK_HOSTS:
        host = "127.0.0.1"  # no channel authentication: never reachable from another machine
    sso_uri = r.get("SSO_APP_ID_URI") or (f"api://botid-{sso_client_id}" if sso_client_id else "")
    return dict(
        host=host, app_id=app_id, app_password=app_password, app_type=app_type, app_tenant_id=app_tenant,
        anonymous_allowed=anonymous, channel=_channel_endpoints(r), tenant_id=tenant_id,
        bot_sdk=r.choice("BOT_SDK", ("botbuilder", "agents")).lower(),
        agent_client_id=r.guid("AZURE_CLIENT_ID", r.get("AZURE_CLIENT_ID")), agent_client_secret=r.get("AZURE_CLIENT_SECRET"),
        sso_client_id=sso_client_id, sso_client_secret=r.get("SSO_CLIENT_SECRET") or app_password, sso_app_id_uri=sso_uri,
        oauth_connection_name=r.get("OAUTH_CONNECTION_NAME"), api_audience=r.get("API_AUDIENCE") or sso_uri,
        allowed_tenants=r.guids("ALLOWED_TENANTS", r.get("ALLOWED_TENANTS") or app_tenant),
    )


def _service_urls(r: _Reader, teams_service_url: str) -> ServiceUrlPolicy:
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


def _trusted_channels(r: _Reader, plans: tuple[ResponsePlan, ...], policy: ServiceUrlPolicy) -> tuple[ResponsePlan, ...]:
    for p in plans:  # the bot's token goes to this host with every message of the incident thread
        if not policy.allows(p.service_url):
            r.bad(f"RESPONSE_PLANS_FILE={r.get('RESPONSE_PLANS_FILE')!r} is invalid: response plan "
                  f"{p.name!r}: channel.serviceUrl {p.service_url!r} {UNTRUSTED_MESSAGE}")
    return plans


def _limits(r: _Reader) -> dict[str, Any]:
    """Abuse limits, outbound timeouts and the metrics listener."""
    return dict(
        allow_guests=r.boolean("ALLOW_GUESTS"),
        rate_person_per_minute=int(r.number("RATE_LIMIT_PERSON_PER_MINUTE", 1)),
        rate_conversation_per_minute=int(r.number("RATE_LIMIT_CONVERSATION_PER_MINUTE", 1)),
        rate_api_per_minute=int(r.number("RATE_LIMIT_API_PER_MINUTE", 1)),
        outbound_timeout=r.number("OUTBOUND_TIMEOUT_SECONDS", 1, integer=False),
        metrics_port=int(r.number("METRICS_PORT", 0)) if r.get("METRICS_PORT") else None,
        metrics_host=r.get("METRICS_HOST"),
    )


def _incidents(r: _Reader) -> dict[str, Any]:
    """How /api/incidents authenticates Azure Monitor (secure webhook, or the ?code= secret)."""
    secret = r.get("INCIDENT_WEBHOOK_SECRET")
    if secret and len(secret) < 24:
        r.bad("INCIDENT_WEBHOOK_SECRET is invalid: expected at least 24 random characters")
    return dict(
        incident_webhook_secret=secret,
        action_groups_app_id=r.guid("ACTION_GROUPS_APP_ID", r.get("ACTION_GROUPS_APP_ID")),
        incident_webhook_role=r.get("INCIDENT_WEBHOOK_ROLE"),
        incident_accept_secret_only=r.boolean("INCIDENT_ACCEPT_SECRET_ONLY"),
        autonomous_requires_secure_webhook=r.boolean("INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK"),
    )


def _store(r: _Reader) -> dict[str, Any]:
    """Where plans, audit and delivery keys live."""
    kind = r.choice("STORE", ("sqlite", "azure-tables")).lower()
    prefix = r.get("STORE_TABLE_PREFIX")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,50}", prefix):
        r.bad(f"STORE_TABLE_PREFIX={prefix!r} is invalid: expected letters and digits, starting with a letter, at most "
              "51 characters (table names allow nothing else)")
    account_url = r.url("AZURE_STORAGE_ACCOUNT_URL", optional=True)
    connection_string = r.get("AZURE_STORAGE_CONNECTION_STRING")
    if kind == "azure-tables" and not account_url and not connection_string:
        r.bad("AZURE_STORAGE_ACCOUNT_URL is required when STORE=azure-tables (or set AZURE_STORAGE_CONNECTION_STRING)")
    return dict(store=kind, store_sqlite_wal=r.choice("STORE_SQLITE_WAL", ("auto", "on", "off")).lower(),
                storage_account_url=account_url, storage_connection_string=connection_string,
                store_table_prefix=prefix, store_path=Path(r.get("STORE_PATH")))


def _policy(r: _Reader) -> ConsentPolicy:
    return ConsentPolicy(
        approvers=r.guids("DEFAULT_APPROVERS", r.get("DEFAULT_APPROVERS")),
        approver_group=r.guid("APPROVER_GROUP_ID", r.get("APPROVER_GROUP_ID")) or None,
        approvals_required=int(r.number("APPROVALS_REQUIRED", 1)),
        allow_self_approval=r.boolean("ALLOW_SELF_APPROVAL"),
        expiry=timedelta(minutes=r.number("PLAN_EXPIRY_MINUTES", 1, integer=False)),
        credentials_expiry=timedelta(minutes=r.number("CREDENTIALS_EXPIRY_MINUTES", 1, integer=False)),
        credentials_attempts=int(r.number("CREDENTIALS_ATTEMPTS", 1)),
    )


def _read(cls: type[Settings], r: _Reader) -> Settings:
    identity = _identity(r)
    ca = r.get("SSL_CERT_FILE") or r.get("REQUESTS_CA_BUNDLE") or None
    if ca and not Path(ca).is_file():
        r.bad(f"SSL_CERT_FILE={ca!r} is invalid: expected the path of a PEM file that exists")
    default_subscription = r.guid("DEFAULT_SUBSCRIPTION_ID", r.get("DEFAULT_SUBSCRIPTION_ID"))
    scopes = _allowed_scopes(r, default_subscription)
    polling = r.get("ARM_POLLING_INTERVAL")
    service_url = r.get("TEAMS_SERVICE_URL")
    trusted = _service_urls(r, service_url)
    plans = r.json_file("RESPONSE_PLANS_FILE",
                        lambda data: tuple(parse_response_plans(data, service_url, identity["app_tenant_id"], scopes)))
    return cls(
        **identity,
        port=int(r.number("PORT", 0)),
        authority_host=r.url("AZURE_AUTHORITY_HOST"),
        arm_endpoint=r.url("ARM_ENDPOINT"),
        graph_endpoint=r.url("GRAPH_ENDPOINT"),
        arm_polling_interval=r.number("ARM_POLLING_INTERVAL", 0, integer=False) if polling else None,
        ca_bundle=ca,
        api_role=r.get("API_ROLE"),
        teams_service_url=service_url,
        service_urls=trusted,
        **_limits(r),
        default_subscription_id=default_subscription,
        allowed_scopes=scopes,
        api_callers=r.json_file("API_CALLERS_FILE", lambda data: parse_api_callers(data, scopes)),
        policy=_policy(r),
        sweep_interval=r.number("SWEEP_INTERVAL_SECONDS", 0.1, integer=False),
        # App Service names each instance of a plan in WEBSITE_INSTANCE_ID (a long hex string): its start suffices
        instance_id=r.get("INSTANCE_ID") or r.env.get("WEBSITE_INSTANCE_ID", "").strip()[:16],
        execution_lease_seconds=r.number("EXECUTION_LEASE_SECONDS", 0.3, integer=False),
        outbox_max_attempts=int(r.number("OUTBOX_MAX_ATTEMPTS", 1)),
        outbox_max_backoff=r.number("OUTBOX_MAX_BACKOFF_SECONDS", 0.01, integer=False),
        buttons_for_everyone=r.choice("CARD_BUTTONS", ("approvers", "everyone")).lower() == "everyone",
        response_plans=_trusted_channels(r, plans or (), trusted),
        **_incidents(r),
        **_store(r),
        log_level=r.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
        appinsights_connection_string=r.get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
    )


def serving_problems(settings: Settings) -> list[str]:
    """What makes a valid configuration unable to work as a bot: no channel authentication, or a consent policy
    that no one can satisfy."""
    problems = []
    if not settings.app_id and not settings.anonymous_allowed:
        problems.append("MicrosoftAppId is required to serve: without it anyone could post activities as anyone "
                        "(set ANONYMOUS_ALLOWED=true only for a local client such as the Agents Playground)")
    policy = settings.policy
    if not policy.approvers and not policy.approver_group:
        problems.append("DEFAULT_APPROVERS or APPROVER_GROUP_ID is required: with neither, nobody could approve a plan "
                        "(expected comma-separated Entra object ids, or an Entra group id)")
    elif not policy.approver_group and policy.approvals_required > len(policy.approvers):
        problems.append(f"APPROVALS_REQUIRED={policy.approvals_required} is invalid: only {len(policy.approvers)} "
                        "approver(s) in DEFAULT_APPROVERS and no APPROVER_GROUP_ID, so no plan could ever be approved "
                        "(expected at most the number of approvers)")
    return problems


def check_serving(settings: Settings) -> None:
    """Refuse to serve without Bot Framework authentication (unless anonymous mode was asked for) or with a consent
    policy no one can satisfy."""
    if problems := serving_problems(settings):
        raise ConfigError(problems)

