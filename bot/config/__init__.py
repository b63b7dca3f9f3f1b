"""Typed settings from the environment (and `.env`), validated at start-up with one clear line per problem.

One module per concern, each declaring its settings and parsing and validating them on its own: teams (listening,
the bot's identity, channel authentication, SSO, Bot Connector hosts), azure (the agent identity, Azure endpoints,
CAs, scopes), policy (approvals, expiries, buttons, response plans), follow_up (reminders and escalation), api
(callers of /api/plans, /api/incidents authentication), limits (rate limits, timeouts, retries), store (plans and
leases), observability (logs, traces, metrics), and manifest (the Teams app package). `Settings` holds one of each but the manifest's.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import api, azure, follow_up, limits, manifest, observability, policy, store, teams
from .api import ApiContext, ApiSettings
from .azure import AzureSettings
from .follow_up import FollowUpSettings
from .limits import LimitSettings
from .manifest import ManifestSettings
from .observability import ObservabilitySettings
from .policy import PolicySettings, Where
from .reader import ConfigError, Reader, Setting
from .store import StoreSettings
from .teams import CHANNEL_SETTINGS, LOOPBACK_HOSTS, ChannelEndpoints, TeamsSettings

# Every setting the bot reads, by concern; README and .env.example document the same list (scripts/settings_docs.py).
SETTINGS: tuple[Setting, ...] = (
    *teams.SETTINGS,
    *azure.SETTINGS,
    *policy.SETTINGS,
    *follow_up.SETTINGS,
    *api.SETTINGS,
    *limits.SETTINGS,
    *store.SETTINGS,
    *observability.SETTINGS,
    *manifest.SETTINGS,
)

# the bot's public host name, declared with the manifest's settings and read by the running bot too (/mcp's metadata,
# callback events' source)
_BOT_DOMAIN = tuple(s for s in manifest.SETTINGS if s.name == "BOT_DOMAIN")

__all__ = [
    "CHANNEL_SETTINGS",
    "LOOPBACK_HOSTS",
    "SETTINGS",
    "ApiSettings",
    "AzureSettings",
    "ChannelEndpoints",
    "ConfigError",
    "FollowUpSettings",
    "LimitSettings",
    "ManifestSettings",
    "ObservabilitySettings",
    "PolicySettings",
    "Setting",
    "Settings",
    "StoreSettings",
    "TeamsSettings",
    "check_serving",
    "serving_problems",
    "unknown_settings",
]


@dataclass(frozen=True)
class Settings:
    """The bot's settings, one group per concern."""

    teams: TeamsSettings
    azure: AzureSettings
    policy: PolicySettings
    api: ApiSettings
    limits: LimitSettings
    store: StoreSettings
    observability: ObservabilitySettings
    follow_up: FollowUpSettings

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """Pretty printers (IPython's; Hypothesis' in a failing test's report) show every field of a dataclass,
        secrets included, unless the class prints itself: as its repr, which leaves out the repr=False secrets."""
        p.text(repr(self))

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, serving: bool = False) -> Settings:
        """Read and validate every group; raises ConfigError listing every problem (`problems`), each naming its
        setting.

        `serving` adds what only a running bot needs: Bot Framework authentication (see `check_serving`) and a
        consent policy that some set of approvers can satisfy."""
        problems: list[str] = []

        def reader(declared: tuple[Setting, ...]) -> Reader:
            return Reader(env, declared, problems)

        az = AzureSettings.read(reader(azure.SETTINGS))
        tm = TeamsSettings.read(reader(teams.SETTINGS), az.tenant_id)
        fu = FollowUpSettings.read(reader(follow_up.SETTINGS))
        settings = cls(
            teams=tm,
            azure=az,
            policy=PolicySettings.read(
                reader(policy.SETTINGS), Where(tm.teams_service_url, tm.app_tenant_id, az.allowed_scopes, tm.service_urls, fu.schedule)
            ),
            api=ApiSettings.read(
                reader((*api.SETTINGS, *_BOT_DOMAIN)),
                ApiContext(tm.sso_app_id_uri, tm.sso_client_id, az.allowed_scopes, tm.port, az.authority_host, tm.app_tenant_id),
            ),
            limits=LimitSettings.read(reader(limits.SETTINGS)),
            store=StoreSettings.read(reader(store.SETTINGS)),
            observability=ObservabilitySettings.read(reader(observability.SETTINGS)),
            follow_up=fu,
        )
        if serving:  # listed with the rest, unless a problem already named their setting (its value is then a stand-in)
            said = {m[0] for problem in problems if (m := re.match(r"\w+", problem))}
            problems.extend(p for p in serving_problems(settings) if not said & set(re.findall(r"\w+", p)))
        if problems:
            raise ConfigError(problems)
        return settings


def serving_problems(settings: Settings) -> list[str]:
    """What makes a valid configuration unable to work as a bot: no channel authentication, or a consent policy
    that no one can satisfy."""
    return policy.serving_problems(bool(settings.teams.app_id) or settings.teams.anonymous_allowed, settings.policy.consent)


def check_serving(settings: Settings) -> None:
    """Refuse to serve without Bot Framework authentication (unless anonymous mode was asked for) or with a consent
    policy no one can satisfy."""
    if problems := serving_problems(settings):
        raise ConfigError(problems)


def unknown_settings(keys: Iterable[str], source: str) -> list[str]:
    """One problem per key of `source` (a .env file) that is no setting, with the setting it probably meant: a key
    the bot does not read is a value silently not applied (PLAN_EXPIRY_MINUTE, MICROSOFTAPPTYPE)."""
    names = [s.name for s in SETTINGS]
    by_upper = {n.upper(): n for n in names}
    problems = []
    for key in keys:
        if key in names:
            continue
        meant = by_upper.get(key.upper()) or next(iter(difflib.get_close_matches(key.upper(), list(by_upper), n=1, cutoff=0.8)), None)
        hint = f"did you mean {by_upper.get(meant, meant)}?" if meant else "the README's Configuration section lists every setting"
        problems.append(f"{key} in {source} is not a setting: {hint}")
    return problems
