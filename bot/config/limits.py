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

    @classmethod
    def read(cls, r: Reader) -> LimitSettings:
        return cls(
            rate_person_per_minute=int(r.number("RATE_LIMIT_PERSON_PER_MINUTE", 1)),
            rate_conversation_per_minute=int(r.number("RATE_LIMIT_CONVERSATION_PER_MINUTE", 1)),
            rate_api_per_minute=int(r.number("RATE_LIMIT_API_PER_MINUTE", 1)),
            outbound_timeout=r.number("OUTBOUND_TIMEOUT_SECONDS", 1, integer=False),
            sweep_interval=r.number("SWEEP_INTERVAL_SECONDS", 0.1, integer=False),
            outbox_max_attempts=int(r.number("OUTBOX_MAX_ATTEMPTS", 1)),
            outbox_max_backoff=r.number("OUTBOX_MAX_BACKOFF_SECONDS", 0.01, integer=False),
        )
