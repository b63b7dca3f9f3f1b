"""The exact Azure Resource Manager request an action sends: what is approved, hashed, stored and sent as is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..markdown import literal

WRITE_METHODS = ("POST", "PUT", "PATCH")  # DELETE is never a catalog method


@dataclass(frozen=True)
class ArmRequest:
    """Method, path (the resource id and what follows it), api-version, JSON body and the If-Match ETag, if any.

    `body` is kept as canonical JSON text so the request is hashable, compares by content and is stored exactly.
    """

    method: str
    path: str
    api_version: str
    body_json: str | None = None
    if_match: str | None = None
    shown: tuple[str, ...] = ()  # body paths the card shows (the change: `sku.capacity`); empty shows the body

    @classmethod
    def of(
        cls, method: str, path: str, api_version: str, body: Any = None, if_match: str | None = None, shown: tuple[str, ...] = ()
    ) -> ArmRequest:
        if method not in WRITE_METHODS:
            raise ValueError(f"{method} is not a write the catalog sends")
        return cls(method, path, api_version, canonical(body) if body is not None else None, if_match, shown)

    @property
    def body(self) -> Any:
        return json.loads(self.body_json) if self.body_json is not None else None

    def digest_form(self) -> list[Any]:
        """What the plan hash covers (ids compare case-insensitively, as ARM compares them)."""
        return [self.method, self.path.lower(), self.api_version, self.body_json, self.if_match]

    def summary(self) -> str:
        """The card's "Azure request" fact: `PUT …/serverfarms/shop-plan` with the changed body fields."""
        after_namespace = self.path.split("/providers/", 1)[-1].split("/", 1)[-1]  # serverfarms/shop-plan
        short = "…/" + after_namespace
        what = self._body_summary()
        return f"{self.method} {literal(short)}" + (f" with {what}" if what else "")

    def _body_summary(self) -> str:
        body = self.body
        if body is None:
            return ""
        if not isinstance(body, dict):
            return ""
        paths = self.shown or tuple(sorted(body))
        parts = [f"{p} {json.dumps(get_path(body, p)).strip(chr(34))}" for p in paths]
        return literal(", ".join(parts))


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def get_path(value: Any, dotted: str) -> Any:
    """`value["sku"]["capacity"]` for "sku.capacity" (None where a level is missing)."""
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def with_path(value: dict[str, Any], dotted: str, new: Any) -> dict[str, Any]:
    """A copy of `value` with `dotted` set to `new` (levels created as needed)."""
    head, _, rest = dotted.partition(".")
    copy = dict(value)
    copy[head] = with_path(dict(copy.get(head) or {}), rest, new) if rest else new
    return copy
