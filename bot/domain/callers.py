"""Which agent apps may submit plans through `POST /api/plans` (and `/mcp`): their name, scopes and operations, and
where they may be called back.

Identified by the verified app id of their token (`azp` in v2 tokens, `appid` in v1), never by what the body says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .callbacks import CallbackUrls, env_name_problem
from .entries import entries, operations, scopes_within, strings
from .operations import OperationPattern
from .scope import Scope

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class ApiCaller:
    """A registered agent app: what the cards call it, and what it may propose, where."""

    app_id: str
    name: str
    scopes: tuple[Scope, ...]
    operations: tuple[OperationPattern, ...]  # what it may propose (OperationPattern.matches)
    callback_urls: CallbackUrls = field(default_factory=lambda: CallbackUrls.of(()))  # where its plans may call back (none)
    callback_secret_env: str = ""  # the environment variable holding its callback signing secret (never the file)

    @property
    def display(self) -> str:
        return f"{self.name} (app {self.app_id})"


def parse_api_callers(data: Any, allowed: Sequence[Scope]) -> tuple[ApiCaller, ...]:
    """Parse `{"callers": [{"appId", "name", "scopes", "operations", "callbackUrls", "callbackSecretEnv"}]}` (the last
    two optional, together); raises ValueError naming the entry at fault."""
    callers: dict[str, ApiCaller] = {}
    for where, item in entries(data, "callers", '{"callers": [{"appId", "name", "scopes", "operations"}, ...]}'):
        app_id, name = item.get("appId"), item.get("name")
        if not isinstance(app_id, str) or not _GUID.match(app_id):
            raise ValueError(f"{where}: appId must be the app's client id (a GUID)")
        if app_id.lower() in callers:
            raise ValueError(f"{where}: appId {app_id} is listed twice")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise ValueError(f"{where}: name must be a display name of 1 to 80 characters")
        scopes = scopes_within(item.get("scopes"), allowed, where, "/subscriptions/<id>[/resourceGroups/<group>]")
        urls, secret_env = _callbacks(item, where)
        callers[app_id.lower()] = ApiCaller(
            app_id.lower(), name.strip(), scopes, operations(item.get("operations"), where), urls, secret_env
        )
    return tuple(callers.values())


def _callbacks(item: dict[str, Any], where: str) -> tuple[CallbackUrls, str]:
    """The entry's callback prefixes and the name of the variable holding its secret: both or neither."""
    raw, env = item.get("callbackUrls"), item.get("callbackSecretEnv")
    if raw is None and env is None:
        return CallbackUrls.of(()), ""
    prefixes = strings(raw, where, "callbackUrls must list https URL prefixes (with callbackSecretEnv)")
    try:
        urls = CallbackUrls.of(prefixes)
    except ValueError as e:
        raise ValueError(f"{where}: callbackUrls: {e}") from None
    problem = env_name_problem(env)
    if problem:
        raise ValueError(f"{where}: {problem} (callbackUrls need it: the secret is never written in this file)")
    assert isinstance(env, str)
    return urls, env


def find_caller(callers: Sequence[ApiCaller], app_id: str) -> ApiCaller | None:
    return next((c for c in callers if c.app_id == app_id.lower()), None)
