"""Structural validation of Adaptive Card JSON through the microsoft-teams-cards models.

The models accept unknown keys (extra="allow"), so besides `model_validate` on each element this
also refuses any property the element's model does not define, and any unknown element type.
"""

from __future__ import annotations

import inspect
from typing import Any

from microsoft_teams.cards import core
from pydantic import BaseModel

MODELS: dict[str, type[BaseModel]] = {}
for _, cls in inspect.getmembers(core, inspect.isclass):
    if issubclass(cls, BaseModel) and "type" in cls.model_fields:
        default = cls.model_fields["type"].default
        if isinstance(default, str):
            MODELS[default] = cls
NESTED: dict[str, type[BaseModel]] = {
    "refresh": core.RefreshDefinition,
    "authentication": core.Authentication,
    "tokenExchangeResource": core.TokenExchangeResource,
}


def _aliases(cls: type[BaseModel]) -> set[str]:
    names = set()
    for name, field in cls.model_fields.items():
        names.add(field.alias or core.SerializableObject.serialization_alias_generator(name))
    return names


def validate_card(card: dict[str, Any]) -> list[str]:
    """Problems found in `card` (empty = valid)."""
    problems: list[str] = []

    def check(node: Any, path: str, model: type[BaseModel] | None = None) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                check(item, f"{path}[{i}]")
            return
        if not isinstance(node, dict):
            return
        if model is None and "type" in node:
            model = MODELS.get(node["type"])
            if model is None:
                problems.append(f"{path}: unknown element type {node['type']!r}")
                return
        if model is not None:
            try:
                model.model_validate(node)
            except Exception as e:  # pydantic ValidationError: report it with the path
                problems.append(f"{path}: {e}")
            allowed = _aliases(model) | {"$schema"}
            problems.extend(f"{path}: {model.__name__} has no property {k!r}" for k in node if k not in allowed)
        for key, value in node.items():
            if key in ("data",):
                continue  # Action.Execute data is free-form by design
            check(value, f"{path}.{key}", NESTED.get(key))

    check(card, "$")
    return problems
