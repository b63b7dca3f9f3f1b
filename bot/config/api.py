"""The bot's HTTP APIs: who may call POST /api/plans, and how POST /api/incidents authenticates Azure Monitor."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.callers import ApiCaller, parse_api_callers
from ..domain.scope import Scope
from .reader import Reader, declared

SETTINGS = declared("api")


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

    @property
    def api_audience(self) -> str:
        return self.audiences[0]

    @classmethod
    def read(cls, r: Reader, sso_app_id_uri: str, sso_client_id: str, scopes: tuple[Scope, ...]) -> ApiSettings:
        secret = r.get("INCIDENT_WEBHOOK_SECRET")
        if secret and len(secret) < 24:
            r.bad("INCIDENT_WEBHOOK_SECRET is invalid: expected at least 24 random characters")
        return cls(
            audiences=(r.get("API_AUDIENCE") or sso_app_id_uri, sso_client_id),
            api_role=r.get("API_ROLE"),
            api_callers=r.json_file("API_CALLERS_FILE", lambda data: parse_api_callers(data, scopes)),
            incident_webhook_secret=secret,
            action_groups_app_id=r.guid("ACTION_GROUPS_APP_ID"),
            incident_webhook_role=r.get("INCIDENT_WEBHOOK_ROLE"),
            incident_accept_secret_only=r.boolean("INCIDENT_ACCEPT_SECRET_ONLY"),
            autonomous_requires_secure_webhook=r.boolean("INCIDENT_AUTONOMOUS_REQUIRES_SECURE_WEBHOOK"),
        )
