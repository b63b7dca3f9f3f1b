"""Abuse limits, outbound timeouts, and how hard and how often the background workers try."""

from __future__ import annotations

from dataclasses import dataclass

from .reader import Reader, declared

SETTINGS = declared("limits")


@dataclass(frozen=True)
class LimitSettings:
    rate_person_per_minute: int
    rate_conversation_per_minute: int
    rate_api_per_minute: int
    outbound_timeout: float
    sweep_interval: float
    outbox_max_attempts: int
    outbox_max_backoff: float
    teams_sends_per_second: int  # the app's pace of outbox calls to Teams (all threads, all instances together)
    inbox_visibility_timeout: int  # seconds a received queue message stays hidden while it is processed
    inbox_max_dequeue_count: int  # receives before a queue message is parked in the poison queue
    callback_max_attempts: int = 8  # deliveries of one callback event before it is given up as a dead letter
    callback_retry: float = 5.0  # the first retry of a callback comes within this many seconds; each next waits twice as long

    @classmethod
    def read(cls, r: Reader) -> LimitSettings:
        outbound = r.number("OUTBOUND_TIMEOUT_SECONDS", 1, integer=False)
        # default: the calls processing an alert makes (token, Azure Monitor, the store), each allowed one retry
        visibility = r.optional_number("INBOX_VISIBILITY_TIMEOUT_SECONDS", 1)
        return cls(
            rate_person_per_minute=int(r.number("RATE_LIMIT_PERSON_PER_MINUTE", 1)),
            rate_conversation_per_minute=int(r.number("RATE_LIMIT_CONVERSATION_PER_MINUTE", 1)),
            rate_api_per_minute=int(r.number("RATE_LIMIT_API_PER_MINUTE", 1)),
            outbound_timeout=outbound,
            sweep_interval=r.number("SWEEP_INTERVAL_SECONDS", 0.1, integer=False),
            outbox_max_attempts=int(r.number("OUTBOX_MAX_ATTEMPTS", 1)),
            outbox_max_backoff=r.number("OUTBOX_MAX_BACKOFF_SECONDS", 0.01, integer=False),
            teams_sends_per_second=int(r.number("TEAMS_SENDS_PER_SECOND", 1)),
            inbox_visibility_timeout=int(visibility) if visibility is not None else max(1, round(6 * outbound)),
            inbox_max_dequeue_count=int(r.number("INBOX_MAX_DEQUEUE_COUNT", 1)),
            callback_max_attempts=int(r.number("CALLBACK_MAX_ATTEMPTS", 1)),
            callback_retry=_at_most(r, "CALLBACK_RETRY_SECONDS", 30.0),
        )


def _at_most(r: Reader, name: str, ceiling: float) -> float:
    value = r.number(name, 0.01, integer=False)
    if value > ceiling:
        r.bad(f"{name}={value:g} is invalid: expected at most {ceiling:g}")
        return ceiling
    return value
