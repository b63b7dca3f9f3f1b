"""What the Teams app package says about the bot (`manifest build`): ids, domain, SSO resource, version, developer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import teams
from .reader import GUID, Reader, declared, parse

SETTINGS = declared("manifest")
# the Teams settings the package repeats, declared once in teams.py
_FROM_TEAMS = tuple(s for s in teams.SETTINGS if s.name in ("MicrosoftAppId", "SSO_CLIENT_ID", "SSO_APP_ID_URI"))


@dataclass(frozen=True)
class ManifestSettings:
    bot_id: str  # MicrosoftAppId
    sso_client_id: str
    sso_app_id_uri: str
    bot_domain: str
    teams_app_id: str
    version: str
    developer: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ManifestSettings:
        """Raises ConfigError naming each setting at fault."""
        return parse(env, (*SETTINGS, *_FROM_TEAMS), cls.read)

    @classmethod
    def read(cls, r: Reader) -> ManifestSettings:
        app_id = r.get("MicrosoftAppId")
        if not GUID.match(app_id):
            r.bad("MicrosoftAppId must be the bot's Entra app id (a GUID) to build the Teams package")
        sso_client = r.guid("SSO_CLIENT_ID", r.get("SSO_CLIENT_ID") or app_id)
        domain, sso_uri = r.get("BOT_DOMAIN"), r.get("SSO_APP_ID_URI")
        if not domain and sso_uri.startswith("api://"):
            domain = sso_uri[len("api://") :].split("/")[0]
        if not domain or "/" in domain or ":" in domain:
            r.bad("BOT_DOMAIN must be the bot's host name, e.g. sre-consent.azurewebsites.net")
        return cls(
            bot_id=app_id,
            sso_client_id=sso_client,
            # Teams SSO needs the domain in the resource (api://<domain>/botid-<app id>)
            sso_app_id_uri=sso_uri or f"api://{domain}/botid-{sso_client}",
            bot_domain=domain,
            teams_app_id=r.get("TEAMS_APP_ID") or app_id,
            version=r.get("TEAMS_APP_VERSION"),
            developer=r.get("TEAMS_APP_DEVELOPER"),
        )
