"""Which agent apps may submit plans through `POST /api/plans`: their name, scopes and operations.

Identified by the verified app id of their token (`azp` in v2 tokens, `appid` in v1), never by what the body says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .entries import entries, operations, scopes_within
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

    @property
    def display(self) -> str:
        return f"{self.name} (app {self.app_id})"


def parse_api_callers(data: Any, allowed: Sequence[Scope]) -> tuple[ApiCaller, ...]:
    """Parse `{"callers": [{"appId", "name", "scopes", "operations"}]}`; raises ValueError naming the entry at fault."""
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
        callers[app_id.lower()] = ApiCaller(app_id.lower(), name.strip(), scopes, operations(item.get("operations"), where))
    return tuple(callers.values())


def find_caller(callers: Sequence[ApiCaller], app_id: str) -> ApiCaller | None:
    return next((c for c in callers if c.app_id == app_id.lower()), None)
