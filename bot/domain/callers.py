"""Which agent apps may submit plans through `POST /api/plans`: their name, scopes and operations.

Identified by the verified app id of their token (`azp` in v2 tokens, `appid` in v1), never by what the body says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .plan import OPERATION_WORDS, Operation
from .scope import Scope, describe, parse_scopes

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class ApiCaller:
    """A registered agent app: what the cards call it, and what it may propose, where."""

    app_id: str
    name: str
    scopes: tuple[Scope, ...]
    operations: frozenset[Operation]

    @property
    def display(self) -> str:
        return f"{self.name} (app {self.app_id})"


def parse_api_callers(data: Any, allowed: Sequence[Scope]) -> tuple[ApiCaller, ...]:
    """Parse `{"callers": [{"appId", "name", "scopes", "operations"}]}`; raises ValueError naming the entry at fault."""
    items = data.get("callers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError('expected {"callers": [{"appId", "name", "scopes", "operations"}, ...]}')
    callers: dict[str, ApiCaller] = {}
    for i, item in enumerate(items):
        where = f"callers[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object")
        app_id, name = item.get("appId"), item.get("name")
        if not isinstance(app_id, str) or not _GUID.match(app_id):
            raise ValueError(f"{where}: appId must be the app's client id (a GUID)")
        if app_id.lower() in callers:
            raise ValueError(f"{where}: appId {app_id} is listed twice")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise ValueError(f"{where}: name must be a display name of 1 to 80 characters")
        raw_scopes, raw_ops = item.get("scopes"), item.get("operations")
        if not isinstance(raw_scopes, list) or not all(isinstance(s, str) for s in raw_scopes):
            raise ValueError(f"{where}: scopes must list /subscriptions/<id>[/resourceGroups/<group>]")
        try:
            scopes = parse_scopes(raw_scopes)
        except ValueError as e:
            raise ValueError(f"{where}: scopes: {e}") from None
        outside = [s for s in scopes if not s.within(allowed)]
        if outside:
            raise ValueError(f"{where}: scope {outside[0]} is outside ALLOWED_SCOPES ({describe(allowed)})")
        if not isinstance(raw_ops, list) or not raw_ops or not all(isinstance(o, str) for o in raw_ops):
            raise ValueError(f"{where}: operations must list some of {', '.join(OPERATION_WORDS)}")
        try:
            operations = frozenset(Operation.parse(o) for o in raw_ops)
        except ValueError:
            raise ValueError(f"{where}: operations must list some of {', '.join(OPERATION_WORDS)}") from None
        callers[app_id.lower()] = ApiCaller(app_id.lower(), name.strip(), scopes, operations)
    return tuple(callers.values())


def find_caller(callers: Sequence[ApiCaller], app_id: str) -> ApiCaller | None:
    return next((c for c in callers if c.app_id == app_id.lower()), None)
