"""The bot's HTTP APIs: who may call POST /api/plans and /mcp (and how they are called back), where an MCP client learns
to get its token, and how POST /api/incidents authenticates Azure Monitor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..domain.callbacks import secret_problem
from ..domain.callers import ApiCaller, parse_api_callers
from ..domain.scope import Scope
from .reader import Reader, declared

SETTINGS = declared("api")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True)
class ApiContext:
    """What the API settings take from the other groups."""

    sso_app_id_uri: str
    sso_client_id: str
    scopes: tuple[Scope, ...]
    port: int = 3978
    authority_host: str = "https://login.microsoftonline.com"
    tenant_id: str = ""


@dataclass(frozen=True)
class ApiSettings:
    audiences: tuple[str, ...]  # what callers' tokens may name: API_AUDIENCE, then the SSO app's client id
    api_role: str
    api_callers: tuple[ApiCaller, ...] | None  # None: API_CALLERS_FILE not set, no app may submit
    incident_webhook_secret: str = field(repr=False)
    action_groups_app_id: str
    incident_webhook_role: str
    incident_accept_secret_only: bool
    autonomous_requires_secure_webhook: bool
    # each caller's callback signing secret (app id -> whsec_...), read from the variable its entry names
    callback_secrets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    public_url: str = ""  # https://<BOT_DOMAIN> (http://localhost:<PORT> on loopback); empty: unknown
    authorization_server: str = ""  # the Entra v2 issuer callers get their tokens from: <authority>/<tenant>/v2.0

    @property
    def api_audience(self) -> str:
        return self.audiences[0]

    @classmethod
    def read(cls, r: Reader, c: ApiContext) -> ApiSettings:
        secret = r.get("INCIDENT_WEBHOOK_SECRET")
        if secret and len(secret) < 24:
            r.bad("INCIDENT_WEBHOOK_SECRET is invalid: expected at least 24 random characters")
        callers = r.json_file("API_CALLERS_FILE", lambda data: parse_api_callers(data, c.scopes))
        return cls(
            audiences=(r.get("API_AUDIENCE") or c.sso_app_id_uri, c.sso_client_id),
            api_role=r.get("API_ROLE"),
            api_callers=callers,
            incident_webhook_secret=secret,
            action_groups_app_id=r.guid("ACTION_GROUPS_APP_ID"),
            incident_webhook_role=r.get("INCIDENT_WEBHOOK_ROLE"),
            incident_accept_secret_only=r.boolean("INCIDENT_ACCEPT_SECRET_ONLY"),
            autonomous_requires_secure_webhook=r.boolean("INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK"),
            callback_secrets=MappingProxyType(_callback_secrets(r, callers or ())),
            public_url=public_url(r.get("BOT_DOMAIN"), c.sso_app_id_uri, c.port),
            authorization_server=f"{c.authority_host.rstrip('/')}/{c.tenant_id}/v2.0" if c.tenant_id else "",
        )


def _callback_secrets(r: Reader, callers: tuple[ApiCaller, ...]) -> dict[str, str]:
    """Each caller's callback secret, from the environment variable its entry names (never from the file); a missing
    or malformed one stops start-up naming the variable, never showing the value."""
    found: dict[str, str] = {}
    for caller in callers:
        if not caller.callback_secret_env:
            continue
        name = caller.callback_secret_env
        value = r.env.get(name, "").strip()
        problem = "it is not set" if not value else secret_problem(value)
        if problem:
            r.bad(f"{name} (callbackSecretEnv of {caller.name} in API_CALLERS_FILE) is invalid: {problem}")
            continue
        found[caller.app_id] = value
    return found


def public_url(bot_domain: str, sso_app_id_uri: str, port: int) -> str:
    """Where agents reach the bot: https://<BOT_DOMAIN> (else the domain of SSO_APP_ID_URI, api://<domain>/...), or
    http://<host>:<PORT> for a loopback host (a bot served on this machine only, as `make run` does); empty when no
    domain is known."""
    domain = bot_domain
    if not domain and sso_app_id_uri.startswith("api://"):
        candidate = sso_app_id_uri[len("api://") :].split("/")[0]
        domain = candidate if "." in candidate or candidate in LOOPBACK_NAMES else ""
    if not domain or "/" in domain:
        return ""
    if domain in LOOPBACK_NAMES:
        return f"http://{domain}:{port}"
    return f"https://{domain}"
