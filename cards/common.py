"""Building blocks shared by every card, and the serializer to Adaptive Card JSON."""

from __future__ import annotations

from typing import Any

from microsoft_teams.cards import AdaptiveCard, TextBlock

from .view import CONTENT_TYPE

__all__ = ["CONTENT_TYPE", "dump", "heading", "text"]


def heading(value: str) -> TextBlock:
    return TextBlock(text=value, size="Large", weight="Bolder", wrap=True, style="heading")


def text(value: str, *, subtle: bool = False) -> TextBlock:
    return TextBlock(text=value, wrap=True, is_subtle=subtle or None)


def dump(card: AdaptiveCard) -> dict[str, Any]:
    """Adaptive Card JSON with the `$schema` Teams expects; unset fields are left out."""
    content: dict[str, Any] = card.model_dump(exclude_none=True, by_alias=True)
    return {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", **content}
