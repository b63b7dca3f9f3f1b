"""Which Bot Connector hosts the bot may call: its bearer token goes with every call.

botframework-connector sends the bot's Entra token for the Bot Framework to whatever `serviceUrl`
a connector client is built for, so a service URL chosen by a caller would hand the bot's identity
to that host. Proactive messages go only to URLs under a configured prefix (https, same host and
port, path under the prefix's path). Microsoft lists the Teams service URLs per cloud (public:
`https://smba.trafficmanager.net/teams/` and its regional siblings such as `/amer/`, `/emea/`,
`/apac/`; GCC `https://smba.infra.gcc.teams.microsoft.com/teams`; GCC High
`https://smba.infra.gov.teams.microsoft.us/teams`; DoD `https://smba.infra.dod.teams.microsoft.us/teams`):
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# the public cloud's Teams service URLs (global and regional) all live under this prefix
PUBLIC_CLOUD_PREFIXES = ("https://smba.trafficmanager.net/",)


@dataclass(frozen=True)
class _Prefix:
    host: str
    port: int
    path: str  # always ends with "/"


def _split(url: str) -> tuple[str, int, str] | None:
    """(host, port, path) of an https URL without credentials, query or fragment; None otherwise."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 443
    except ValueError:
        return None
    if parts.scheme.lower() != "https" or not parts.hostname or parts.username or parts.password:
        return None
    if parts.query or parts.fragment or "\\" in url or any(ord(c) < 33 for c in url.strip()):
        return None
    path = parts.path or "/"
    return parts.hostname.lower(), port, path


def parse_prefix(url: str) -> _Prefix:
    """A trusted prefix; raises ValueError for anything but a plain https URL."""
    split = _split(url)
    if split is None:
        raise ValueError(f"{url!r} is not an https:// URL (no credentials, query or fragment)")
    host, port, path = split
    return _Prefix(host, port, path if path.endswith("/") else path + "/")


@dataclass(frozen=True)
class ServiceUrlPolicy:
    """The Bot Connector URL prefixes the bot trusts with its token."""

    prefixes: tuple[_Prefix, ...]

    @classmethod
    def of(cls, urls: Iterable[str]) -> ServiceUrlPolicy:
        return cls(tuple(parse_prefix(u) for u in urls))

    def allows(self, url: object) -> bool:
        if not isinstance(url, str):
            return False
        split = _split(url)
        if split is None:
            return False
        host, port, path = split
        path = path if path.endswith("/") else path + "/"
        segments = path.split("/")
        if ".." in segments or "." in segments:
            return False
        return any(p.host == host and p.port == port and path.startswith(p.path) for p in self.prefixes)

    def describe(self) -> str:
        return ", ".join(f"https://{p.host}{'' if p.port == 443 else f':{p.port}'}{p.path}" for p in self.prefixes)


UNTRUSTED_MESSAGE = (
    "must be a Bot Connector URL the bot trusts: TEAMS_SERVICE_URL or under a prefix of "
    "TEAMS_SERVICE_URLS (https only); leave it out to use TEAMS_SERVICE_URL"
)


class UntrustedServiceUrl(ValueError):
    """A service URL the bot will not send its token to; nothing was sent (raised by every SDK adapter's notifier)."""
