"""The JSON files the bot is configured with (API_CALLERS_FILE, RESPONSE_PLANS_FILE), read one way: a list of entries
under one key, each field checked by the same helpers, every error a ValueError naming the entry and field at fault."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .operations import OperationPattern
from .scope import Scope, describe, parse_scopes


def entries(data: Any, key: str, expected: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`key[i]`, the entry) for each object listed under `key`; `expected` shows the file's shape when it is not."""
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"expected {expected}")
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object")
        yield where, item


def strings(value: Any, where: str, problem: str, *, non_empty: bool = True) -> list[str]:
    """`value` as a list of strings (non-empty unless told), else ValueError "`where`: `problem`"."""
    if not isinstance(value, list) or (non_empty and not value) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {problem}")
    return value


def whole_number(value: Any, where: str, problem: str, low: int, high: int) -> int:
    """`value` as a whole number from `low` to `high` (a JSON true is not 1), else ValueError "`where`: `problem`"."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{where}: {problem}")
    return value


def scopes_within(value: Any, allowed: Sequence[Scope], where: str, shape: str) -> tuple[Scope, ...]:
    """The entry's `scopes`, each inside `allowed` (ALLOWED_SCOPES); `shape` says what the list should hold."""
    scopes = strings(value, where, f"scopes must list {shape}", non_empty=False)
    try:
        parsed = parse_scopes(scopes)
    except ValueError as e:
        raise ValueError(f"{where}: scopes: {e}") from None
    outside = [s for s in parsed if not s.within(allowed)]
    if outside:
        raise ValueError(f"{where}: scope {outside[0]} is outside ALLOWED_SCOPES ({describe(allowed)})")
    return parsed


def operations(value: Any, where: str) -> tuple[OperationPattern, ...]:
    """The operations an entry lists: `<resource type>/<operation>` with `*` for either part, `*` alone, or a plain
    word for the virtual machine operation of that name."""
    problem = "operations must list <resource type>/<operation> patterns (* for either part), or VM operation words"
    patterns = []
    for i, text in enumerate(strings(value, where, problem)):
        try:
            patterns.append(OperationPattern.parse(text))
        except ValueError as e:
            raise ValueError(f"{where}: operations[{i}] {text!r}: {e}") from None
    return tuple(patterns)
