"""What the bot says about a card without building one: who views it, the SSO settings it carries, its content type.

Kept apart from the card builders so that the bot can start without importing the Adaptive Card models
(microsoft_teams.cards): they are imported when the first card is rendered (docs/benchmarks.md, start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.markdown import literal
from bot.domain.plan import Plan

CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class SsoSettings:
    """What the card-level `authentication` block needs for Teams SSO."""

    connection_name: str
    app_id_uri: str
    sign_in_url: str = ""


@dataclass(frozen=True)
class Viewer:
    """Who looks at the card: approvers see buttons, everyone else a read-only view."""

    can_act: bool = False


READ_ONLY = Viewer()


def card_summary(plan: Plan) -> str:
    """The `summary` of the activity that carries the card: notifications and clients that cannot render cards show
    it, so the caller's title is plain, escaped text there too (no link, mention or formatting of theirs)."""
    return f"Execution plan: {literal(plan.title)}"
