"""A card click (`adaptiveCard/action` invoke), parsed once into a typed value."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ...domain.plan import Plan


class Verb(str, Enum):
    """The Action.Execute verbs the bot answers (the card module renders them; the router registers them)."""

    APPROVE = "approve"
    DENY = "deny"
    REFRESH = "refresh"
    GRANT = "grant"
    CANCEL = "cancel"
    PROPOSE_AGAIN = "proposeAgain"  # a new plan with the actions of one that ended short of success


@dataclass(frozen=True)
class CardClick:
    """What a click asks: `verb` on plan `plan_id` as the card showed it (`plan_hash`).

    `sso_token` is Teams' SSO token (`value.authentication.token`), `magic_code` the token service's
    code after a sign-in through its link (`value.state`); both only on a retried `grant`. `read` is the plan as the
    conversation read it to check where the click came from (core.py), so a handler need not read it again: a store
    round trip fewer per click (on Table Storage, a third of them)."""

    verb: Verb
    plan_id: str
    plan_hash: str = ""
    reason: str | None = None
    sso_token: str | None = None
    magic_code: str | None = None
    trigger: str = "manual"
    read: Plan | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NotExecute:
    """Not an Action.Execute with a value."""


@dataclass(frozen=True)
class Malformed:
    """An Action.Execute with an unknown verb, or without a plan id; `verb` as sent (clipped), for the audit."""

    verb: str


ParsedClick = CardClick | NotExecute | Malformed
REASON_LIMIT = 500


def parse_click(value: object) -> ParsedClick:
    """`activity.value` of an `adaptiveCard/action` invoke (protocols §1.1)."""
    action = value.get("action") if isinstance(value, dict) else None
    if not isinstance(value, dict) or not isinstance(action, dict) or action.get("type") != "Action.Execute":
        return NotExecute()
    verb, data = action.get("verb"), action.get("data")
    try:
        known = Verb(verb) if isinstance(verb, str) else None
    except ValueError:
        known = None
    if known is None or not isinstance(data, dict) or not isinstance(data.get("planId"), str):
        return Malformed(str(verb)[:40])
    reason = data.get("reason") if known in (Verb.DENY, Verb.CANCEL) else None
    trigger = value.get("trigger")
    return CardClick(
        verb=known,
        plan_id=data["planId"],
        plan_hash=str(data.get("planHash", "")),
        reason=clip(reason, REASON_LIMIT) if isinstance(reason, str) and reason.strip() else None,
        sso_token=_sso_token(value),
        magic_code=_nonempty(value.get("state")),
        trigger=trigger if isinstance(trigger, str) else "manual",
    )


def _sso_token(value: dict[str, Any]) -> str | None:
    auth = value.get("authentication")
    return _nonempty(auth.get("token")) if isinstance(auth, dict) else None


def _nonempty(text: object) -> str | None:
    return text if isinstance(text, str) and text else None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
