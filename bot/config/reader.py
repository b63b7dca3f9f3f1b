"""What every settings group shares: the declaration of a setting, and a reader that notes each problem and goes on."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

T = TypeVar("T")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class ConfigError(Exception):
    """Settings are missing or invalid: `problems` has one line per problem, each naming the setting and what is
    expected; the message is the problems joined with "; " (the first one first)."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Setting:
    """One documented setting: README's table and .env.example are written from these (scripts/settings_docs.py)."""

    name: str
    help: str
    default: str | None = None  # None: required


@cache
def _catalogue() -> dict[str, dict[str, dict[str, str]]]:
    with (Path(__file__).parent / "settings.toml").open("rb") as f:
        return tomllib.load(f)


def declared(group: str) -> tuple[Setting, ...]:
    """The settings of one concern, as settings.toml lists them (in its order)."""
    return tuple(Setting(name, s["help"], s.get("default")) for name, s in _catalogue()[group].items())


def parse(env: Mapping[str, str], declared: tuple[Setting, ...], read: Callable[[Reader], T]) -> T:
    """One group on its own: `read` over `env`; raises ConfigError listing every problem of the group."""
    r = Reader(env, declared)
    value = read(r)
    r.check()
    return value


class Reader:
    """Reads the settings of `declared`, noting each problem (one line: the setting and what is expected) and going on
    with a harmless value, so that every problem is found in one pass."""

    def __init__(self, env: Mapping[str, str], declared: tuple[Setting, ...], problems: list[str] | None = None) -> None:
        self.env, self.declared = env, {s.name: s for s in declared}
        self.problems = [] if problems is None else problems  # shared by the groups read together

    def bad(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def check(self) -> None:
        """Raise the problems noted so far, if any."""
        if self.problems:
            raise ConfigError(self.problems)

    def get(self, name: str) -> str:
        s = self.declared[name]
        value = self.env.get(name, "").strip()
        if value:
            return value
        if s.default is None:
            self.bad(f"{name} is required: {s.help}")
            return ""
        return s.default

    def number(self, name: str, minimum: float, integer: bool = True) -> float:
        raw = self.get(name)
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            self.bad(f"{name}={raw!r} is invalid: expected a {'whole ' if integer else ''}number")
            return minimum
        if value < minimum:
            self.bad(f"{name}={raw!r} is invalid: expected at least {minimum:g}")
            return minimum
        return value

    def optional_number(self, name: str, minimum: float, integer: bool = True) -> float | None:
        """None when the setting is empty (its default)."""
        return self.number(name, minimum, integer) if self.get(name) else None

    def guid(self, name: str, value: str | None = None) -> str:
        value = self.get(name) if value is None else value
        if value and not GUID.match(value):
            self.bad(f"{name}={value!r} is invalid: expected a GUID like 00000000-0000-0000-0000-000000000000")
            return ""
        return value

    def guids(self, name: str, raw: str | None = None) -> frozenset[str]:
        raw = self.get(name) if raw is None else raw
        return frozenset(self.guid(name, v.strip()) for v in raw.split(",") if v.strip()) - {""}

    def url(self, name: str, *, optional: bool = False) -> str:
        value = self.get(name)
        parsed = urlparse(value)
        if (value or not optional) and (parsed.scheme != "https" or not parsed.netloc):
            self.bad(f"{name}={value!r} is invalid: expected an https:// URL")
        return value.rstrip("/")

    def boolean(self, name: str) -> bool:
        raw = self.get(name).lower()
        if raw not in ("true", "false", "1", "0", "yes", "no"):
            self.bad(f"{name}={raw!r} is invalid: expected true or false")
        return raw in ("true", "1", "yes")

    def choice(self, name: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        value = self.get(name)
        value = value.upper() if upper else value
        if value.lower() not in (c.lower() for c in choices):
            self.bad(f"{name}={value!r} is invalid: expected {', '.join(choices[:-1])} or {choices[-1]}")
        return value

    def json_file(self, name: str, parse: Callable[[Any], T]) -> T | None:
        path = self.get(name)
        if not path:
            return None
        try:
            return parse(json.loads(Path(path).read_text()))
        except OSError as e:
            self.bad(f"{name}={path!r} is invalid: cannot read it ({e.strerror})")
        except ValueError as e:
            self.bad(f"{name}={path!r} is invalid: {e}")
        return None
