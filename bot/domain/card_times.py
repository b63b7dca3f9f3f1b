"""Times, as Teams shows them: on a card in the reader's own time zone and locale, and the time a plan has left."""

from __future__ import annotations

from datetime import UTC, datetime

from .markdown import literal


def card_time(at: datetime) -> str:
    """A time for card text, in the reader's own time zone and locale: the Adaptive Card DATE/TIME functions
    (learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-format#date-and-time-formatting-and-localization)
    take RFC 3339 without fractions of a second."""
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def card_time_of(value: str) -> str:
    """`card_time` of an ISO 8601 string from someone else (an alert's firedDateTime); the text itself when it is not one."""
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return literal(value)
    return card_time(at if at.tzinfo else at.replace(tzinfo=UTC))


def time_left(expires_at: datetime, now: datetime) -> str:
    seconds = (expires_at - now).total_seconds()
    if seconds <= 0:
        return "expired"
    minutes = int(seconds // 60)
    return f"{minutes} min left" if minutes else f"{int(seconds)} s left"


def waited(since: datetime, now: datetime) -> str:
    """How long something has waited, as people say it: "40 s", "12 min", "1 h 5 min"."""
    seconds = max(0.0, (now - since).total_seconds())
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
