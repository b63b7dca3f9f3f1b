"""Which agent apps may submit plans through `POST /api/plans` (and `/mcp`): their name, scopes and operations, where
they may be called back, the conversations they may post into (`targets`), and the people behind them who may not
approve their plans (`excludedApprovers`).

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
    targets: frozenset[str] | None = None  # channel and conversation ids it may post into; None: APPROVALS_CHANNEL only
    excluded_approvers: frozenset[str] = frozenset()  # Entra object ids of the people behind it: never its approvers

    @property
    def display(self) -> str:
        return f"{self.name} (app {self.app_id})"

    def target_refusal(self, conversation_id: str, approvals_channel: str) -> str | None:
        """Why the app may not have a card posted in `conversation_id` (None: it may, in any thread of it): only one of
        its `targets`, or, without `targets`, the approvals channel alone; never anyone's personal chat or an unrelated
        group chat it was not given."""
        allowed = self.targets if self.targets is not None else frozenset({approvals_channel} - {""})
        if conversation_id.split(";messageid=")[0] in allowed:
            return None
        where = "the conversations its entry lists under targets" if self.targets is not None else "APPROVALS_CHANNEL"
        return f"{self.name} may not post into this conversation: only into {where} (API_CALLERS_FILE); nothing was proposed"


def parse_api_callers(data: Any, allowed: Sequence[Scope]) -> tuple[ApiCaller, ...]:
    """Parse `{"callers": [{"appId", "name", "scopes", "operations", "callbackUrls"?, "callbackSecretEnv"?, "targets"?,
    "excludedApprovers"?}]}` (the callback fields together); raises ValueError naming the entry at fault."""
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
            app_id.lower(),
            name.strip(),
            scopes,
            operations(item.get("operations"), where),
            urls,
            secret_env,
            _targets(item.get("targets"), where),
            _people(item.get("excludedApprovers"), where),
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


def _targets(value: Any, where: str) -> frozenset[str] | None:
    """`targets`: Teams channel ids (19:...@thread.tacv2) and conversation ids (19:...@thread.v2, a:...), whole
    conversations (no `;messageid=`); absent: the app may post only into APPROVALS_CHANNEL."""
    if value is None:
        return None
    problem = "targets must list Teams channel or conversation ids (19:... or a:...), without ;messageid="
    found = strings(value, where, problem, non_empty=False)
    if any(not t.startswith(("19:", "a:", "8:")) or ";" in t or len(t) > 400 for t in found):
        raise ValueError(f"{where}: {problem}")
    return frozenset(found)


def _people(value: Any, where: str) -> frozenset[str]:
    """`excludedApprovers`: Entra object ids (GUIDs) of the people who drive the app."""
    if value is None:
        return frozenset()
    found = strings(value, where, "excludedApprovers must list Entra object ids (GUIDs)", non_empty=False)
    if not all(_GUID.match(p) for p in found):
        raise ValueError(f"{where}: excludedApprovers must list Entra object ids (GUIDs)")
    return frozenset(p.lower() for p in found)


def find_caller(callers: Sequence[ApiCaller], app_id: str) -> ApiCaller | None:
    return next((c for c in callers if c.app_id == app_id.lower()), None)
