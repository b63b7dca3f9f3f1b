"""How the driver shows what the bot said: cards as one line (title, state, plan), invoke answers verbatim.

Only reading: nothing here talks to the bot. The card layout read here is cards/plan_card.py's (a heading,
then the state in bold, and a "Plan" fact); anything else falls back to the card's text blocks.
"""

from __future__ import annotations

from typing import Any

from .teams_models import BotMessage, InvokeResult, card_of, execute_data

LOGIN_REQUEST = "application/vnd.microsoft.activity.loginRequest"


def _text_blocks(items: list[Any]) -> list[dict[str, Any]]:
    """The card's TextBlocks, in reading order, containers included."""
    found: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "TextBlock":
            found.append(item)
        found.extend(_text_blocks(item.get("items") or []))
    return found


def _fact(items: list[Any], title: str) -> str | None:
    for item in items:
        if isinstance(item, dict) and item.get("type") == "FactSet":
            for fact in item.get("facts") or []:
                if fact.get("title") == title:
                    return str(fact.get("value"))
    return None


def plan_id_of_card(card: dict[str, Any] | None) -> str | None:
    """The plan a card shows: its refresh or button data, else its "Plan" fact (finished cards have no buttons)."""
    if not card:
        return None
    for verb in ("refresh", "approve", "deny", "grant", "cancel"):
        data = execute_data(card, verb)
        if data and isinstance(data.get("planId"), str):
            return str(data["planId"])
    return _fact(card.get("body") or [], "Plan")


def plan_id_of(message: BotMessage) -> str | None:
    """The plan of a message's card, looking through every version it has had."""
    for activity in (message.activity, *reversed(message.versions)):
        if found := plan_id_of_card(card_of(activity)):
            return found
    return None


def is_finished(card: dict[str, Any] | None) -> bool:
    """A plan card without `refresh` shows a final state (cards/plan_card.py drops it once a plan is terminal)."""
    return bool(card) and execute_data(card, "refresh") is None and plan_id_of_card(card) is not None


def describe_card(card: dict[str, Any]) -> str:
    """A plan card as `[plan ID] title: state (approvals)`; any other card as its text blocks."""
    body = card.get("body") or []
    blocks = [b for b in _text_blocks(body) if b.get("text")]
    plan_id = _fact(body, "Plan")
    if plan_id and blocks:
        title = str(blocks[0]["text"])
        state = next(
            (
                str(b["text"])
                for b in body
                if isinstance(b, dict) and b.get("type") == "TextBlock" and b.get("weight") == "Bolder" and b is not blocks[0]
            ),
            "?",
        )
        approvals = _fact(body, "Approvals")
        return f"[plan {plan_id}] {title}: {state}" + (f" (approvals {approvals})" if approvals else "")
    return "[card] " + " | ".join(str(b["text"]) for b in blocks)


def describe_activity(activity: dict[str, Any]) -> str:
    card = card_of(activity)
    return describe_card(card) if card else str(activity.get("text") or "")


def describe_invoke(result: InvokeResult) -> str:
    """The bot's answer to a click, as it sent it: the card it shows, its message, or its error."""
    if result.status >= 300 or result.body is None:
        return f"bot answered HTTP {result.status}: {result.body.get('text') if result.body else '(no body)'}"
    value, kind, code = result.value, result.type or "", result.status_code
    if isinstance(value, dict) and value.get("type") == "AdaptiveCard":
        return f"bot answered {code} with the card: {describe_card(value)}"
    if kind == "application/vnd.microsoft.activity.message":
        return f"bot answered {code}: {value}"
    if kind == LOGIN_REQUEST and isinstance(value, dict):
        return f"bot answered {code} loginRequest: {value.get('text')} (connection {value.get('connectionName')})"
    if isinstance(value, dict) and "message" in value:
        return f"bot refused ({code} {value.get('code')}): {value['message']}"
    return f"bot answered {code} {kind}: {value}"
