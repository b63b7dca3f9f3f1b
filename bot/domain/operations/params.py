"""Typed, bounded parameters of an operation: what an API body, a chat command or a response plan may set.

Each parameter parses what it is given (a JSON value or the word typed in chat) or says why not, in words a 400
answer or a chat reply can use as they are, and describes itself as a JSON schema (for agents listing what they
may propose).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

ParamValue = int | str
Parameters = tuple[tuple[str, ParamValue], ...]  # (name, value), in the catalog's order: hashable, stored as is


class ParamKind(StrEnum):
    INTEGER = "integer"
    CHOICE = "choice"
    NAME = "name"  # a name Azure's naming rule checks (a slot, a revision)


class ParamError(ValueError):
    """A parameter the caller gave is missing, of the wrong kind or out of bounds; `name` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


@dataclass(frozen=True)
class Param:
    name: str
    kind: ParamKind
    description: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    default: ParamValue | None = None
    rule: Callable[[str], str | None] | None = field(default=None, compare=False)  # NAME: Azure's naming rule

    @property
    def required(self) -> bool:
        return self.default is None and self.kind is not ParamKind.NAME

    def bounds(self) -> str:
        """The accepted values, as the refusals say them."""
        if self.kind is ParamKind.INTEGER:
            high = f" and at most {self.maximum}" if self.maximum is not None else ""
            return f"a whole number, at least {self.minimum}{high}"
        if self.kind is ParamKind.CHOICE:
            return "one of " + ", ".join(self.choices)
        return "a name"

    def parse(self, value: Any) -> ParamValue:
        """The value, checked; raises ParamError saying what is accepted."""
        if self.kind is ParamKind.INTEGER:
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            if not isinstance(value, int) or isinstance(value, bool):
                raise ParamError(self.name, f"{self.name} must be {self.bounds()}")
            if (self.minimum is not None and value < self.minimum) or (self.maximum is not None and value > self.maximum):
                raise ParamError(self.name, f"{self.name} must be {self.bounds()} (got {value})")
            return value
        if not isinstance(value, str) or not value.strip():
            raise ParamError(self.name, f"{self.name} must be {self.bounds()}")
        if self.kind is ParamKind.CHOICE:
            found = next((c for c in self.choices if c.lower() == value.strip().lower()), None)
            if found is None:
                raise ParamError(self.name, f"{self.name} must be {self.bounds()}")
            return found
        problem = self.rule(value.strip()) if self.rule else None
        if problem:
            raise ParamError(self.name, f"{self.name}: {problem}")
        return value.strip()

    def schema(self) -> dict[str, Any]:
        """This parameter as a JSON schema property."""
        s: dict[str, Any] = {"description": self.description}
        if self.kind is ParamKind.INTEGER:
            s["type"] = "integer"
            if self.minimum is not None:
                s["minimum"] = self.minimum
            if self.maximum is not None:
                s["maximum"] = self.maximum
        elif self.kind is ParamKind.CHOICE:
            s |= {"type": "string", "enum": list(self.choices)}
        else:
            s["type"] = "string"
        if self.default is not None:
            s["default"] = self.default
        return s


def parse_parameters(params: tuple[Param, ...], raw: Mapping[str, Any]) -> Parameters:
    """Every parameter of `params` from `raw` (defaults filled in); raises ParamError for the first one at fault,
    including a name `params` does not know (nothing free-form reaches a request body)."""
    known = {p.name.lower(): p for p in params}
    for name in raw:
        if str(name).lower() not in known:
            accepted = ", ".join(p.name for p in params) or "none"
            raise ParamError(str(name), f"{name} is not a parameter of this operation (accepted: {accepted})")
    given = {str(k).lower(): v for k, v in raw.items()}
    values: list[tuple[str, ParamValue]] = []
    for p in params:
        if p.name.lower() in given:
            values.append((p.name, p.parse(given[p.name.lower()])))
        elif p.default is not None:
            values.append((p.name, p.default))
        elif p.required:
            raise ParamError(p.name, f"{p.name} is required: {p.bounds()}")
    return tuple(values)


def schema(params: tuple[Param, ...]) -> dict[str, Any]:
    """The JSON schema of an operation's `parameters` object."""
    return {
        "type": "object",
        "properties": {p.name: p.schema() for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }
